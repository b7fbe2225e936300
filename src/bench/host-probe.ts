import fs from 'node:fs';

/**
 * What the host sees of an instance, measured from outside: the memory of its processes (PSS,
 * so that pages shared between instances are split fairly) and the blocks its files take.
 */

/** Proportional set size of one process from /proc/PID/smaps_rollup, in bytes; 0 when it is gone. */
export function pss(pid: number): number {
  try {
    const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+) kB/m.exec(t)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

interface Proc {
  pid: number;
  ppid: number;
  argv: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.push({ pid: Number(e), ppid, argv });
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}

/**
 * The host processes of an instance: those whose command line names its id (the monitor or
 * the VMM carry it: conmon -c ID, qemu -name isola-ID) and all their descendants (the
 * container's processes are children of its monitor). Works for any kind that names its
 * host processes after the instance, which is isola's rule for everything it creates.
 */
export function instanceProcesses(ids: readonly string[], all: Proc[] = processes()): Map<string, number[]> {
  const children = new Map<number, number[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out = new Map<string, number[]>();
  for (const id of ids) {
    const roots = all.filter((p) => p.argv.includes(id)).map((p) => p.pid);
    const seen = new Set<number>();
    const stack = [...roots];
    while (stack.length) {
      const pid = stack.pop() as number;
      if (seen.has(pid)) continue;
      seen.add(pid);
      stack.push(...(children.get(pid) ?? []));
    }
    out.set(id, [...seen]);
  }
  return out;
}

/** Sum of PSS over the host processes of each instance, read at the same moment. */
export function footprints(ids: readonly string[]): Map<string, number> {
  const procs = instanceProcesses(ids);
  return new Map([...procs].map(([id, pids]) => [id, pids.reduce((a, p) => a + pss(p), 0)]));
}

export function meminfo(): { totalBytes: number; availableBytes: number } {
  const t = fs.readFileSync('/proc/meminfo', 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0) * 1024;
  return { totalBytes: kib('MemTotal'), availableBytes: kib('MemAvailable') };
}
