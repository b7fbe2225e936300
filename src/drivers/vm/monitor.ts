import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import { spawn } from 'node:child_process';
import type { ExitInfo } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import { processAlive } from '../../util/process.js';

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

/** Is `pid` still this instance's QEMU? (Its `-name isola-<id>` guards against pid reuse.) */
export function isQemuAlive(pid: number | null, id: string): boolean {
  return processAlive(pid, { cmdlineIncludes: `isola-${id}` });
}

export function readPid(pidfile: string): number | null {
  try {
    const n = Number(fs.readFileSync(pidfile, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Starts QEMU with -daemonize: resolves once the VM exists (before the guest boots). */
export function launchDaemon(qemu: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new IsolaError('UNAVAILABLE', `cannot run QEMU (${qemu}): ${e.message}`, 'install Debian\'s qemu-system-x86 (npm run bootstrap does)')));
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const msg = stderr.trim().split('\n').filter((l) => !/warning:/i.test(l)).join(' ').replace(/^qemu-system-x86_64: /, '') || `exit status ${code}`;
      reject(new IsolaError('UNAVAILABLE', `QEMU could not start the VM: ${msg}`, 'check the kernel, initrd and memory options (isola host shows what this host offers)'));
    });
  });
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

export async function waitGone(pid: number | null, id: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isQemuAlive(pid, id)) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** Hard stop: QMP quit, then SIGKILL if QEMU is still there. */
export async function killQemu(pid: number | null, id: string, qmpSocket: string): Promise<void> {
  if (!isQemuAlive(pid, id)) return;
  await qmpCommand(qmpSocket, 'quit').catch(() => undefined);
  if (await waitGone(pid, id, 2000)) return;
  try {
    process.kill(pid as number, 'SIGKILL');
  } catch {
    /* gone */
  }
  await waitGone(pid, id, 2000);
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
