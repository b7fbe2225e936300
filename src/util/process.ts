import fs from 'node:fs';

/**
 * A process as isola recorded it: its pid is not enough (pids are reused, and after a reboot
 * every pid means something else), so the kernel's start time of the process and the boot it
 * belongs to go with it. Before isola signals or trusts a recorded process it checks all three.
 */
export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot when the process started. */
  startTime: number;
  bootId: string;
}

let bootIdCache: string | undefined;

/** This boot's id (a new one after every reboot). */
export function currentBootId(): string {
  bootIdCache ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return bootIdCache;
}

interface Stat {
  state: string;
  startTime: number;
}

function readStat(pid: number): Stat | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', startTime: Number(fields[19]) };
  } catch {
    return null;
  }
}

/** The identity of a live process, to record before waiting on it; null when it is gone. */
export function processRef(pid: number | null | undefined): ProcessRef | null {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return null;
  const st = readStat(pid);
  if (!st || st.state === 'Z') return null;
  return { pid, startTime: st.startTime, bootId: currentBootId() };
}

/**
 * Is `pid` a live process (a zombie has exited, for our purposes)? With a ProcessRef, also
 * whether it is still that very process (same boot, same start time). With `cmdlineIncludes`,
 * whether its command line contains that text (for processes recorded by pid alone).
 */
export function processAlive(p: number | ProcessRef | null | undefined, opts: { cmdlineIncludes?: string } = {}): boolean {
  if (p === null || p === undefined) return false;
  const ref = typeof p === 'number' ? null : p;
  const pid = typeof p === 'number' ? p : p.pid;
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  if (ref && ref.bootId !== currentBootId()) return false;
  const st = readStat(pid);
  if (!st || st.state === 'Z') return false;
  if (ref && st.startTime !== ref.startTime) return false;
  if (opts.cmdlineIncludes !== undefined) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(opts.cmdlineIncludes)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Sends a signal to a recorded process only if it is still that process; true when sent. */
export function signalProcess(ref: ProcessRef | null | undefined, signal: NodeJS.Signals, opts: { cmdlineIncludes?: string } = {}): boolean {
  if (!ref || !processAlive(ref, opts)) return false;
  try {
    process.kill(ref.pid, signal);
    return true;
  } catch {
    return false;
  }
}
