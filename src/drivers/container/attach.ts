import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { AttachIO, AttachSession, ClientTerminal, TerminalSize } from '../../core/types.js';
import type { Config } from '../../core/config.js';
import { IsolaError } from '../../core/errors.js';
import { readGuestAssets } from '../../guest/assets.js';
import { filterRuncErrors } from './monitor.js';

/**
 * A container's terminal and streams, through conmon (see docs/ARCHITECTURE.md, "Terminals"):
 * conmon holds the pty master (runc hands it over on conmon's console socket) or the stdin pipe,
 * and serves clients on its attach socket, a SOCK_SEQPACKET socket Node cannot open. The relay
 * (src/guest/tty-relay.c, built by setup) connects to it for us; window sizes go to conmon's
 * `ctl` FIFO. `exec -t` uses the relay's other mode: it receives the pty master of a
 * `runc exec --tty --detach` itself and reaps the command as a child subreaper.
 */

/** The relay binary, or why there is none. */
export function ttyRelayPath(config: Config): string {
  const p = readGuestAssets(config.assets)?.ttyRelay;
  if (!p) throw new IsolaError('UNAVAILABLE', 'the container terminal relay (tty-relay) is not built', 'run npm run bootstrap once (node dist/src/cli/setup.js builds it)');
  return p;
}

/** conmon's control message for a window size: "1 ROWS COLS" (WIN_RESIZE_EVENT). */
export function ctlResizeLine(size: TerminalSize): string {
  return `1 ${clampSize(size.rows)} ${clampSize(size.cols)}\n`;
}

/** conmon refuses sizes outside 0..1000. */
const clampSize = (n: number): number => Math.max(1, Math.min(1000, Math.floor(n)));

function writeFifo(file: string, text: string): void {
  let fd: number | undefined;
  try {
    // O_NONBLOCK: opening a FIFO nobody reads (conmon gone) fails with ENXIO instead of hanging.
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, text);
  } catch {
    /* the instance exited: nothing to resize */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Lines the relay writes on fd 3. */
function onEvents(child: ChildProcess, listener: (line: string) => void): void {
  const events = child.stdio[3] as Readable | null;
  let buf = '';
  events?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      listener(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

/**
 * Until the relay says it is relaying, or ends: then its own words say why. What came on its
 * stderr before the word "ready" was read is the workload's (the two pipes race), and is
 * passed to `stderr`.
 */
function whenReady(child: ChildProcess, what: string, stderr: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const said: Buffer[] = [];
    const onErr = (d: Buffer) => said.push(d);
    child.stderr?.on('data', onErr);
    const fail = (why: string) => reject(new IsolaError('UNAVAILABLE', `cannot ${what}: ${why}`, 'check the instance is running (isola ps)'));
    onEvents(child, (line) => {
      if (line !== 'ready') return;
      child.stderr?.off('data', onErr);
      for (const b of said) stderr.write(b);
      resolve();
    });
    child.once('error', (e) => fail(e.message));
    child.once('exit', () => fail(Buffer.concat(said).toString().trim().replace(/^isola-tty-relay: /, '') || 'the relay ended'));
  });
}

/**
 * Connects a client to conmon's attach socket in `bundle`. Output before this moment is not
 * replayed (it is in the log). Closing the session kills the relay, which closes the socket;
 * conmon then closes the workload's stdin only if it was told to (StdinOnce).
 */
export async function attachConmon(relay: string, bundle: string, io: AttachIO, tty: boolean): Promise<AttachSession> {
  const child = spawn(relay, ['attach', bundle, ...(io.stdin ? [] : ['--no-stdin'])], {
    stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
    detached: true, // its own session: the client's terminal signals (Ctrl-C) are not for it
  });
  const done = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await whenReady(child, 'attach to the container', io.stderr);
  child.stdout?.pipe(io.stdout, { end: false });
  child.stderr?.pipe(io.stderr, { end: false });
  if (io.stdin && child.stdin) {
    child.stdin.on('error', () => undefined); // the relay went first (the workload exited)
    io.stdin.pipe(child.stdin);
  }
  const ctl = path.join(bundle, 'ctl');
  let closed = false;
  const session: AttachSession = {
    resize: (size) => {
      if (tty && !closed) writeFifo(ctl, ctlResizeLine(size));
    },
    done,
    close: () => {
      if (closed) return;
      closed = true;
      if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
      child.kill('SIGKILL');
    },
  };
  if (tty && io.size) session.resize(io.size);
  void done.then(() => {
    closed = true;
    if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
  });
  return session;
}

export interface TerminalExec {
  relay: string;
  /** The runtime and its arguments up to `exec` (binary, --root ROOT). */
  runtime: string[];
  /** `runc exec` options (cwd, env, user) and the container id and command, after `exec`. */
  execArgs: string[];
  /** A folder for the console socket and pidfile; created and removed here. */
  sessionDir: string;
  tty: ClientTerminal;
  stdin: Readable | null;
  stdout: Writable;
  stderr: Writable;
}

/**
 * `exec -t` in a container: `runc exec --tty --detach --console-socket` under the relay, which
 * takes the pty master, relays it, applies window sizes and reaps the command. Resolves with its
 * exit status; a command runc cannot start is the runtime's error (127, 126), as without a tty.
 */
export async function execOnTerminal(x: TerminalExec): Promise<number> {
  fs.mkdirSync(x.sessionDir, { recursive: true, mode: 0o700 });
  const size = x.tty.size;
  const args = ['exec', String(size?.rows ?? 0), String(size?.cols ?? 0), '--', ...x.runtime, 'exec', '--detach', '--tty',
    '--console-socket', '{console}', '--pid-file', '{pidfile}', ...x.execArgs];
  const filter = filterRuncErrors(x.stderr);
  const child = spawn(x.relay, args, { cwd: x.sessionDir, stdio: [x.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'], detached: true });
  let unsubscribe = (): void => undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      let exit: number | null = null;
      let runtimeFailed: number | null = null;
      onEvents(child, (line) => {
        const [word, n] = line.split(' ');
        if (word === 'exit') exit = Number(n);
        else if (word === 'runtime-failed') runtimeFailed = Number(n);
        else if (word === 'ready') {
          const resize = child.stdio[4] as Writable | null;
          resize?.on('error', () => undefined);
          unsubscribe = x.tty.onResize((s) => resize?.write(`${s.rows} ${s.cols}\n`));
        }
      });
      child.stdout?.pipe(x.stdout, { end: false });
      child.stderr?.pipe(filter.sink);
      if (x.stdin && child.stdin) {
        child.stdin.on('error', () => undefined);
        x.stdin.pipe(child.stdin);
      }
      child.once('error', reject);
      child.once('close', (code) => {
        if (x.stdin && child.stdin) x.stdin.unpipe(child.stdin);
        const err = filter.error();
        if (err) reject(err);
        else if (exit !== null) resolve(exit);
        else if (runtimeFailed !== null) resolve(runtimeFailed);
        else reject(new IsolaError('INTERNAL', `the terminal relay of exec ended without a status (exit ${code ?? 'by signal'})`, 'run it again; isola host checks the runtime'));
      });
    });
  } finally {
    unsubscribe();
    fs.rmSync(x.sessionDir, { recursive: true, force: true });
  }
}

/** A private folder for one exec session under the instance's runtime folder. */
export function execSessionDir(runDir: string): string {
  return path.join(runDir, `exec-${process.pid}-${randomBytes(3).toString('hex')}`);
}
