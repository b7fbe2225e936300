import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { IsolaError } from '../../core/errors.js';
import type { ExitInfo, InstanceSpec } from '../../core/types.js';
import { which } from '../../util/which.js';
import type { Config } from '../../core/config.js';
import { filesOf } from './persist.js';

export function conmonPath(config: Config): string {
  const p = config.bin.conmon ?? which('conmon', config.searchPath);
  if (!p || !fs.existsSync(p)) throw new IsolaError('UNAVAILABLE', 'conmon, the container monitor, is not installed', 'install Debian\'s conmon package (npm run bootstrap does)');
  return p;
}

/**
 * conmon's flags for the workload's stdio. A terminal: conmon receives the pty master from runc
 * and keeps it (stdin included, so no -i, as Podman does). Without one, -i gives the workload a
 * stdin pipe that attach clients write to; a client's end closes it unless it is to outlive
 * them (StdinOnce off: --leave-stdin-open). Pure.
 */
export function conmonStdioArgs(spec: Pick<InstanceSpec, 'tty' | 'stdinOpen' | 'stdinOnce'>): string[] {
  if (spec.tty) return ['-t'];
  if (spec.stdinOpen) return spec.stdinOnce ? ['-i'] : ['-i', '--leave-stdin-open'];
  return [];
}

/**
 * Starts conmon, which double-forks into a daemon, runs `<runtime> create`, keeps the
 * container's stdout/stderr in a k8s-file log, writes the exit status to the exit folder and
 * finally runs the cleanup command. It tells us the container's pid (or the runtime's error)
 * through the sync pipe; after that no isola process has to stay alive.
 */
export function startConmon(config: Config, spec: InstanceSpec, runtime: string, runtimeRoot: string, withExitCommand: boolean): Promise<{ pid: number; conmonPid: number }> {
  const f = filesOf(spec);
  fs.mkdirSync(f.exitDir, { recursive: true });
  fs.mkdirSync(f.sockets, { recursive: true });
  const args = [
    '--api-version', '1',
    '-c', spec.id, '-u', spec.id, '-n', spec.name,
    '-r', runtime, '-b', f.bundle,
    '-p', f.pidFile, '--conmon-pidfile', f.conmonPidFile, '--container-pidfile', f.pidFile,
    '--exit-dir', f.exitDir,
    '-l', `k8s-file:${f.log}`,
    '--log-level', 'error',
    '--socket-dir-path', f.sockets,
    '--runtime-arg', `--root=${runtimeRoot}`,
    // conmon starts the log file again, empty, when it would grow past this (--log-opt max-size).
    ...(spec.logMaxBytes ? ['--log-size-max', String(spec.logMaxBytes)] : []),
  ];
  args.push(...conmonStdioArgs(spec));
  if (withExitCommand && spec.cleanupCommand.length > 0) {
    const [cmd, ...rest] = spec.cleanupCommand;
    args.push('--exit-command', cmd ?? '');
    for (const a of rest) args.push('--exit-command-arg', a);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(conmonPath(config), args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...config.env, _OCI_SYNCPIPE: '3' },
      cwd: spec.dir,
    });
    let stderr = '';
    let buf = '';
    let settled = false;
    const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    const done = (err: Error | null, pid?: number) => {
      if (settled) return;
      settled = true;
      sync.destroy(); // the daemonized conmon keeps its end; we must let go of ours
      child.stderr?.destroy();
      if (err) reject(err);
      else readConmonPid(f.conmonPidFile).then((conmonPid) => resolve({ pid: pid ?? 0, conmonPid }), reject);
    };
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      let msg: { data?: number; message?: string };
      try {
        msg = JSON.parse(buf) as typeof msg;
      } catch {
        return; // not complete yet
      }
      if (typeof msg.data === 'number' && msg.data > 0) done(null, msg.data);
      else done(runtimeError(msg.message ?? stderr ?? 'unknown error'));
    });
    sync.on('end', () => done(runtimeError(stderr || 'conmon ended without reporting the container')));
    child.on('error', (e) => done(e));
  });
}

/**
 * conmon writes its pidfile after it daemonizes, which can be a moment after it reported the
 * container's pid on the sync pipe (seen under 50 parallel starts): wait for it, briefly.
 */
async function readConmonPid(file: string): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (pid > 0) return pid;
    } catch {
      /* not written yet */
    }
    if (Date.now() > deadline) throw new IsolaError('INTERNAL', `conmon did not write its pidfile ${file}`, 'run isola host to check conmon');
    await sleep(5);
  }
}

/** runc's own error lines (--log-format text on stderr), as opposed to the workload's output. */
const RUNC_ERROR = /^time="[^"]*" level=(error|fatal)/m;

/**
 * Passes an exec's stderr through, except the runtime's own error lines: a command it could not
 * start becomes an IsolaError (127/126), anything else it said is passed on after all.
 * `where` names the place for the message ("in the hybrid guest").
 */
export function filterRuncErrors(stderr: Writable, where?: string): { sink: Writable; error: () => IsolaError | null } {
  let errText = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      if (RUNC_ERROR.test(s)) errText += s;
      else stderr.write(chunk);
      cb();
    },
  });
  return {
    sink,
    error: () => {
      if (!errText) return null;
      const e = runtimeError(errText);
      if (e.code === 'COMMAND_NOT_FOUND' || e.code === 'CANNOT_INVOKE') {
        return where ? new IsolaError(e.code, `${e.message} (${where})`, e.hint) : e;
      }
      stderr.write(errText);
      return null;
    },
  };
}

/** The runtime's own words, mapped to Docker's exit statuses where the workload cannot start. */
export function runtimeError(message: string): IsolaError {
  const m = message.trim().split('\n').pop() ?? message;
  if (/executable file not found|no such file or directory/i.test(m) && /exec/i.test(m)) {
    return new IsolaError('COMMAND_NOT_FOUND', `the command was not found in the image: ${cleanRuntimeMessage(m)}`, 'check the command and the image\'s PATH');
  }
  if (/permission denied/i.test(m) && /exec/i.test(m)) {
    return new IsolaError('CANNOT_INVOKE', `the command cannot be invoked: ${cleanRuntimeMessage(m)}`, 'make the file executable in the image');
  }
  return new IsolaError('INTERNAL', `the OCI runtime failed: ${cleanRuntimeMessage(m)}`, 'run isola host to check the runtime');
}

function cleanRuntimeMessage(m: string): string {
  return m.replace(/^.*?msg="?/, '').replace(/"\s*$/, '').replace(/\\"/g, '"');
}

export function readExit(spec: InstanceSpec): { code: number; at: Date } | null {
  const file = filesOf(spec).exitFile;
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    if (text === '') return null; // being written
    return { code: Number(text), at: fs.statSync(file).mtime };
  } catch {
    return null;
  }
}

/** Resolves when conmon has written the exit file. fs.watch wakes us; a slow poll guards it. */
export function waitForExitFile(spec: InstanceSpec, isAlive: () => boolean): Promise<{ code: number; at: Date }> {
  const f = filesOf(spec);
  return new Promise((resolve) => {
    let watcher: fs.FSWatcher | undefined;
    const check = () => {
      const e = readExit(spec);
      if (e) {
        watcher?.close();
        clearInterval(timer);
        resolve(e);
        return;
      }
      // conmon itself died (killed from outside) without writing a status.
      if (!isAlive()) {
        const again = readExit(spec);
        watcher?.close();
        clearInterval(timer);
        resolve(again ?? { code: 255, at: new Date() });
      }
    };
    try {
      watcher = fs.watch(f.exitDir, check);
    } catch {
      /* the poll below still works */
    }
    const timer = setInterval(check, 100);
    check();
  });
}

export function exitInfo(code: number, at: Date, oomKilled: boolean): ExitInfo {
  return { exitCode: code, oomKilled, finishedAt: at.toISOString() };
}
