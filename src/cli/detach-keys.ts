import { invalid } from '../core/errors.js';

/** Docker's default: Ctrl-P then Ctrl-Q. */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** The control codes of ctrl- with a symbol (ctrl-a..z are 1..26). */
const CTRL_SYMBOLS: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };

/**
 * Parses a detach sequence in Docker's spelling: comma-separated keys, each a single character
 * or `ctrl-X` with X one of a-z, @, [, \, ], ^, _ (the control codes 0-31). Pure.
 */
export function parseDetachKeys(spec: string): number[] {
  const keys: number[] = [];
  for (const part of spec.split(',')) {
    const k = part.trim();
    const ctrl = /^ctrl-(.)$/i.exec(k);
    if (ctrl?.[1]) {
      const c = ctrl[1].toLowerCase();
      const code = c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : CTRL_SYMBOLS[c];
      if (code === undefined) throw invalid(`invalid --detach-keys "${spec}": ${k} is not a control key`, 'use ctrl- with a-z, @, [, \\, ], ^ or _, for example ctrl-p,ctrl-q');
      keys.push(code);
    } else if (k.length === 1) {
      keys.push(k.charCodeAt(0));
    } else {
      throw invalid(`invalid --detach-keys "${spec}": "${k}" is neither one character nor ctrl-X`, 'use comma-separated keys, for example ctrl-p,ctrl-q or ctrl-a,d');
    }
  }
  if (keys.length === 0) throw invalid('--detach-keys is empty', 'give at least one key, for example ctrl-p,ctrl-q');
  return keys;
}

/**
 * Watches typed input for the detach sequence. Bytes that may begin the sequence are held back;
 * when the sequence breaks they are passed on after all, so a lone Ctrl-P still reaches the
 * workload (as Docker's escape proxy does). Pure: feed it chunks, it says what to pass on.
 */
export class DetachScanner {
  private held: number[] = [];

  constructor(private readonly keys: readonly number[]) {}

  /** What of `chunk` to pass on, and whether the sequence completed (nothing after it is passed). */
  push(chunk: Buffer): { pass: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) {
          this.held = [];
          return { pass: Buffer.from(out), detach: true };
        }
        continue;
      }
      // The sequence broke: what was held is input after all; this byte may begin it again.
      out.push(...this.held);
      this.held = [];
      if (b === this.keys[0]) this.held.push(b);
      else out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
