import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ExitInfo } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import { processAlive, processRef, signalProcess, type ProcessRef } from '../../util/process.js';
import { readPidFile } from '../../util/fsx.js';
import type { InstanceSpec } from '../../core/types.js';
import type { VmData } from './persist.js';
import { IN_JAIL, launchFiles } from './jail.js';

/**
 * Supervision without a supervisor: QEMU runs daemonized with a pidfile and a QMP socket; the
 * guest's init writes "started PID", "error CODE MSG" and "exit CODE" to a virtio-serial port
 * that QEMU backs with a file. So any later isola process learns how a VM ended by reading
 * that file, even when no isola process was alive when it did.
 */
export interface GuestStatus {
  startedPid: number | null;
  error: { code: number; message: string } | null;
  exitCode: number | null;
}

export function parseStatus(text: string): GuestStatus {
  const s: GuestStatus = { startedPid: null, error: null, exitCode: null };
  for (const line of text.split('\n')) {
    const [word, a, ...rest] = line.trim().split(' ');
    if (word === 'started' && a) s.startedPid = Number(a);
    else if (word === 'error' && a) s.error = { code: Number(a), message: rest.join(' ') };
    else if (word === 'exit' && a) s.exitCode = Number(a);
  }
  return s;
}

export function readStatus(file: string): GuestStatus {
  try {
    return parseStatus(fs.readFileSync(file, 'utf8'));
  } catch {
    return { startedPid: null, error: null, exitCode: null };
  }
}

/** Exit status when QEMU is gone and the guest never reported one: killed from outside. */
export const EXIT_VM_KILLED = 137;

/** The VM's QEMU as recorded: the checks that it is still that process, not a reused pid. */
type VmmRecord = Pick<VmData, 'pid' | 'pidStartTime' | 'bootId' | 'files'>;

function refOf(v: VmmRecord): ProcessRef | number | null {
  if (v.pid && v.pidStartTime !== null && v.bootId) return { pid: v.pid, startTime: v.pidStartTime, bootId: v.bootId };
  return v.pid ?? readPidFile(v.files.pidfile);
}

/** Is this instance's QEMU still running? Its name on the command line guards a pidfile's pid. */
export function vmmAlive(spec: InstanceSpec, v: VmmRecord): boolean {
  return processAlive(refOf(v), { cmdlineIncludes: `isola-${spec.id}` });
}

/** What cleanup knows of a VM whose create never finished: the names the spec gives. */
export function orphanOf(spec: InstanceSpec): VmmRecord {
  return { pid: null, pidStartTime: null, bootId: null, files: launchFiles(path.join(spec.dir, 'vm'), spec.runDir) };
}

/**
 * The host path of one of the VM's sockets (qmp, agent, ctl). Where the runtime folder's path is
 * too long for a unix socket address (108 bytes), the same socket is reached through QEMU's own
 * root: /proc/PID/root is its jail, where the folder is /run/vm.
 */
export function socketPath(v: VmmRecord, name: 'qmp' | 'agent' | 'ctl' | 'tty'): string {
  const direct = v.files[name];
  if (direct === undefined) {
    throw new IsolaError('FAILED_PRECONDITION', 'this VM was started by an isola without a terminal channel', 'run the instance again to attach to it');
  }
  return reachablePath(v, direct);
}

/** A socket of the VM's runtime folder by a path short enough for a unix socket address (through QEMU's root when too long). */
export function reachablePath(v: VmmRecord, direct: string): string {
  if (direct.length <= SOCKET_PATH_MAX || !v.pid) return direct;
  return `/proc/${v.pid}/root${IN_JAIL.run}/${path.basename(direct)}`;
}
const SOCKET_PATH_MAX = 100;

export interface Launched {
  pid: number;
  startTime: number | null;
  bootId: string | null;
  /** Resolves with QEMU's exit status when it ends (while this process watches). */
  exited: Promise<number | null>;
}

/**
 * Starts the jail (which becomes QEMU, same pid) in a session of its own, so it outlives isola;
 * its stderr goes to a file, for the reason when it fails. Returns at once, with the pid to
 * record before anything waits on it.
 */
export function launchJailed(argv: string[], stderrFile: string): Launched {
  const [cmd, ...args] = argv;
  const err = fs.openSync(stderrFile, 'w', 0o600);
  try {
    const child = spawn(cmd ?? '', args, { detached: true, stdio: ['ignore', err, err] });
    const exited = new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(127));
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
    });
    child.unref();
    const ref = processRef(child.pid);
    return { pid: child.pid ?? 0, startTime: ref?.startTime ?? null, bootId: ref?.bootId ?? null, exited };
  } finally {
    fs.closeSync(err);
  }
}

/** Until QEMU is up (its QMP socket exists), or it ended: then its own words say why. */
export async function waitLaunched(q: Launched, qmp: string, stderrFile: string, timeoutMs = 10_000): Promise<void> {
  let ended: number | null | undefined;
  void q.exited.then((c) => (ended = c));
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(qmp)) {
    // Our own child: its pid cannot be reused before its exit is seen. (No command-line check:
    // between fork and exec it still shows this process's.)
    if (ended !== undefined || !processAlive(q.pid)) {
      await sleep(20); // let the exit status and the last words arrive
      const said = readOr(stderrFile, '').split('\n').map((l) => l.trim()).filter((l) => l && !/warning:/i.test(l)).join(' ').replace(/^qemu-system-x86_64: /, '');
      throw new IsolaError('UNAVAILABLE', `QEMU could not start the VM: ${said || `exit status ${ended ?? 'unknown'}`}`, 'check the kernel, initrd and memory options (isola host shows what this host offers)');
    }
    if (Date.now() > deadline) throw new IsolaError('TIMEOUT', `QEMU did not open its control socket within ${timeoutMs / 1000} s`, 'see the VM\'s console with isola console');
    await sleep(5);
  }
}

/** The finish time: when the guest wrote its exit line, or when isola first saw QEMU gone. */
export function exitInfo(statusFile: string, finishedMarker: string): ExitInfo {
  const st = readStatus(statusFile);
  const code = st.exitCode ?? st.error?.code ?? EXIT_VM_KILLED;
  let finishedAt: string;
  try {
    finishedAt = st.exitCode !== null || st.error ? fs.statSync(statusFile).mtime.toISOString() : fs.readFileSync(finishedMarker, 'utf8').trim();
  } catch {
    finishedAt = new Date().toISOString();
    try {
      fs.writeFileSync(finishedMarker, finishedAt + '\n', { flag: 'wx' });
    } catch {
      finishedAt = readOr(finishedMarker, finishedAt);
    }
  }
  return { exitCode: code, oomKilled: false, finishedAt };
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim() || fallback;
  } catch {
    return fallback;
  }
}

export async function waitGone(spec: InstanceSpec, v: VmmRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (vmmAlive(spec, v)) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** Hard stop: QMP quit, then SIGKILL if QEMU is still there (and still this VM's QEMU). */
export async function killQemu(spec: InstanceSpec, v: VmmRecord): Promise<void> {
  if (!vmmAlive(spec, v)) return;
  await qmpCommand(socketPath(v, 'qmp'), 'quit').catch(() => undefined);
  if (await waitGone(spec, v, 2000)) return;
  const ref = refOf(v);
  const name = { cmdlineIncludes: `isola-${spec.id}` };
  if (typeof ref === 'number') {
    if (processAlive(ref, name)) process.kill(ref, 'SIGKILL');
  } else signalProcess(ref, 'SIGKILL', name);
  await waitGone(spec, v, 2000);
}

/** One QMP command after the capabilities handshake. */
export function qmpCommand(socketPath: string, execute: string, args?: Record<string, unknown>, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`QMP ${execute}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | null, v?: unknown): void => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    s.on('error', (e) => done(e));
    s.on('close', () => (step === 2 && execute === 'quit' ? done(null) : undefined));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (msg.QMP && step === 0) {
          step = 1;
          s.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if ('return' in msg && step === 1) {
          step = 2;
          s.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
        } else if ('return' in msg && step === 2) {
          done(null, msg.return);
        } else if ('error' in msg) {
          done(new Error(`QMP ${execute}: ${JSON.stringify(msg.error)}`));
        }
      }
    });
  });
}

/** The last lines of the serial console, for error messages. */
export function consoleTail(file: string, lines = 5): string {
  try {
    const text = fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trimEnd()).filter(Boolean);
    return text.slice(-lines).join(' | ') || '(the console is empty)';
  } catch {
    return '(no console output)';
  }
}
