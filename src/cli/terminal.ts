import { PassThrough, type Readable } from 'node:stream';
import type { ClientTerminal, TerminalSize } from '../core/types.js';
import { IsolaError } from '../core/errors.js';
import type { AttachClient } from '../engine/attach.js';
import { DetachScanner, parseDetachKeys } from './detach-keys.js';

/**
 * The user's side of `run -i/-t`, `exec -i/-t` and `attach`: isola's own stdin, stdout and
 * terminal. With -i and -t the terminal is put in raw mode (every key, Ctrl-C included, goes to
 * the workload's terminal) and always restored: when the session ends, on detach, on an error,
 * and on the process's exit whatever the cause, short of SIGKILL.
 */
export interface TerminalFlags {
  interactive: boolean;
  tty: boolean;
  /** Docker's spelling, e.g. ctrl-p,ctrl-q; only read in raw mode, where they can be typed. */
  detachKeys: string;
  /** Whether detaching is possible (run, attach); an exec's keys all go to its command. */
  detachable: boolean;
}

export interface ClientSide extends AttachClient {
  /** Ends the client: stops reading isola's stdin and restores the terminal. Idempotent. */
  close(): void;
}

/** Signals whose default action would end isola with the terminal still raw ('exit' does not run then). */
const RAW_ENDING_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Docker's check (and words): -i with -t needs a terminal to read keys from. */
export function checkInputIsTty(flags: { interactive: boolean; tty: boolean }, stdinIsTty: boolean): void {
  if (flags.interactive && flags.tty && !stdinIsTty) {
    throw new IsolaError('INVALID_ARGUMENT', 'the input device is not a TTY', 'drop -t to pipe input into the instance (-i alone), or run isola from a terminal');
  }
}

/** The window size of isola's own terminal (stdout's, else stderr's), or null when it has none. */
function windowSize(): TerminalSize | null {
  for (const s of [process.stdout, process.stderr]) {
    if (s.isTTY && s.columns > 0 && s.rows > 0) return { rows: s.rows, cols: s.columns };
  }
  return null;
}

export function clientTerminal(): ClientTerminal {
  return {
    get size() {
      return windowSize();
    },
    onResize(listener) {
      const on = (): void => {
        const s = windowSize();
        if (s) listener(s);
      };
      process.on('SIGWINCH', on);
      return () => void process.off('SIGWINCH', on);
    },
  };
}

/**
 * Opens the client for one command. `flags.interactive` reads isola's stdin (scanning it for the
 * detach keys in raw mode); `flags.tty` reports the window size.
 */
export function openClient(flags: TerminalFlags): ClientSide {
  const stdinIsTty = process.stdin.isTTY === true;
  checkInputIsTty(flags, stdinIsTty);
  const raw = flags.interactive && flags.tty && stdinIsTty;
  const keys = raw && flags.detachable ? parseDetachKeys(flags.detachKeys) : [];
  const detach = new AbortController();
  let stdin: Readable | null = null;
  let stopReading = (): void => undefined;
  let restore = (): void => undefined;

  if (flags.interactive) {
    const input = new PassThrough();
    const scanner = keys.length > 0 ? new DetachScanner(keys) : null;
    const onData = (d: Buffer): void => {
      if (!scanner) {
        input.write(d);
        return;
      }
      const { pass, detach: done } = scanner.push(d);
      if (pass.length > 0) input.write(pass);
      if (done) detach.abort();
    };
    const onEnd = (): void => void input.end();
    process.stdin.on('data', onData);
    process.stdin.once('end', onEnd);
    stopReading = () => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
      // A terminal's handle keeps the process alive until it is let go.
      if (stdinIsTty) process.stdin.destroy();
    };
    stdin = input;
  }
  if (raw) {
    const exitRestore = (): void => {
      try {
        process.stdin.setRawMode(false);
      } catch {
        /* no terminal any more */
      }
    };
    // A signal that would end isola (nobody else handles it) first gives the terminal back.
    const onSignal = (sig: NodeJS.Signals): void => {
      if (process.listenerCount(sig) > 1) return; // the engine passes it on to the workload
      exitRestore();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.stdin.setRawMode(true);
    process.once('exit', exitRestore);
    for (const sig of RAW_ENDING_SIGNALS) process.on(sig, onSignal);
    restore = () => {
      exitRestore();
      process.off('exit', exitRestore);
      for (const sig of RAW_ENDING_SIGNALS) process.off(sig, onSignal);
    };
  }

  let closed = false;
  return {
    stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    ...(flags.tty ? { terminal: clientTerminal() } : {}),
    detach: detach.signal,
    close() {
      if (closed) return;
      closed = true;
      stopReading();
      restore();
      // The workload's prompt is still on the last line: the user's shell starts on a new one.
      if (detach.signal.aborted && process.stderr.isTTY) process.stderr.write('\n');
    },
  };
}
