import { spawn } from 'node:child_process';
import type { ProcessInfo } from '../../core/types.js';
import { processAlive, processRef, signalProcess, type ProcessRef } from '../../util/process.js';
import { CLK_TCK, startedText } from '../../util/procfs.js';

/**
 * The VM's exit watcher (src/guest/exit-watch.c): started beside QEMU, it waits for QEMU to end
 * and then becomes the instance's exit command, as conmon runs a container's. Recorded by pid,
 * start time and boot like QEMU itself; ended by cleanup when the instance goes first.
 */
export function startWatcher(
  binary: string, qemu: { pid: number; startTime: number }, exitCommand: string[], log: string, logMaxBytes: number | undefined,
  env: Readonly<Record<string, string | undefined>>,
): ProcessRef | null {
  const args = ['--pid', String(qemu.pid), '--start-time', String(qemu.startTime)];
  if (logMaxBytes) args.push('--log', log, '--log-max', String(logMaxBytes));
  if (exitCommand.length > 0) args.push('--', ...exitCommand);
  const child = spawn(binary, args, { detached: true, stdio: 'ignore', env: { ...env } });
  child.unref();
  return processRef(child.pid);
}

/** Ends a watcher that is still waiting (never this process, which may be the exit command it became). */
export function endWatcher(w: ProcessRef | null, instanceId: string): void {
  if (!w || w.pid === process.pid) return;
  // Once it has become the exit command its command line no longer names the watcher: leave it be.
  if (processAlive(w, { cmdlineIncludes: 'exit-watch' })) signalProcess(w, 'SIGTERM', { cmdlineIncludes: instanceId });
}

/** The agent's process list (init.c's process_list) as `isola top` rows, with each process's cgroup. */
export function parseProcessList(text: string, now = Date.now()): { info: ProcessInfo; cgroup: string }[] {
  const lines = text.split('\n');
  const uptime = Number(/^uptime ([\d.]+)/.exec(lines[0] ?? '')?.[1] ?? 0);
  const out: { info: ProcessInfo; cgroup: string }[] = [];
  for (const l of lines.slice(1)) {
    const [pid, ppid, uid, ticks, start, cgroup, ...cmd] = l.split('\t');
    if (!pid || !cmd.length) continue;
    const startedMs = now - (uptime - Number(start) / CLK_TCK) * 1000;
    out.push({
      info: { uid: uid ?? '?', pid: Number(pid), ppid: Number(ppid), cpuSeconds: Number(ticks) / CLK_TCK, started: startedText(startedMs, now), cmd: cmd.join('\t') },
      cgroup: cgroup ?? '',
    });
  }
  return out.sort((a, b) => a.info.pid - b.info.pid);
}
