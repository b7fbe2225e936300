import { IsolaError } from '../core/errors.js';

/** All of stdin, without the trailing newline a shell pipe adds (Docker trims it too). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Asks on the terminal, on stderr so stdout stays clean; `secret` reads in raw mode without
 * echo (a password never appears on screen or in scrollback).
 */
export async function ask(question: string, secret: boolean): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) throw new IsolaError('INVALID_ARGUMENT', 'cannot ask for a login: standard input is not a terminal', 'pass the password with --password-stdin (and the user with -u)');
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            input.off('data', onData);
            process.stderr.write('\n');
            return resolve(text);
          }
          if (ch === '\u0003' || ch === '\u0004') {
            input.off('data', onData);
            process.stderr.write('\n');
            return reject(new IsolaError('INVALID_ARGUMENT', 'login cancelled', 'nothing was stored'));
          }
          if (ch === '\u007f' || ch === '\b') {
            if (text.length > 0 && !secret) process.stderr.write('\b \b');
            text = text.slice(0, -1);
            continue;
          }
          text += ch;
          if (!secret) process.stderr.write(ch);
        }
      };
      input.on('data', onData);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}
