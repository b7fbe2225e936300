import fs from 'node:fs';
import type { Stats } from '../../core/types.js';

/**
 * Stats come from inside the guest (the agent sends /proc/meminfo, /proc/stat, /proc/net/dev)
 * and from the host (QEMU's own memory, without the guest RAM it maps).
 */
export function sections(payload: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^== (\w+) ==\n/gm;
  const marks: { name: string; start: number; head: number }[] = [];
  for (let m = re.exec(payload); m; m = re.exec(payload)) marks.push({ name: m[1] as string, start: m.index + m[0].length, head: m.index });
  marks.forEach((mk, i) => out.set(mk.name, payload.slice(mk.start, marks[i + 1]?.head ?? payload.length)));
  return out;
}

function meminfoKiB(text: string, key: string): number | null {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/** USER_HZ: /proc/stat counts in 1/100 s on Linux x86. */
const TICK_NS = 10_000_000;

export function parseGuestStats(payload: string): Omit<Stats, 'time' | 'hostOverheadBytes'> {
  const s = sections(payload);
  const mem = s.get('meminfo') ?? '';
  const total = meminfoKiB(mem, 'MemTotal');
  const avail = meminfoKiB(mem, 'MemAvailable');
  const cpu = /^cpu\s+(.*)$/m.exec(s.get('stat') ?? '');
  let cpuNanos = 0;
  if (cpu) {
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is work
    const f = (cpu[1] as string).trim().split(/\s+/).map(Number);
    cpuNanos = [0, 1, 2, 5, 6, 7].reduce((a, i) => a + (f[i] ?? 0), 0) * TICK_NS;
  }
  let rx: number | null = null;
  let tx: number | null = null;
  for (const line of (s.get('netdev') ?? '').split('\n')) {
    const m = /^\s*eth0:\s*(.*)$/.exec(line);
    if (m) {
      const f = (m[1] as string).trim().split(/\s+/).map(Number);
      rx = f[0] ?? null;
      tx = f[8] ?? null;
    }
  }
  const pids = /^(\d+)/.exec(s.get('pids') ?? '');
  return {
    cpuNanos,
    memoryBytes: total !== null && avail !== null ? (total - avail) * 1024 : 0,
    memoryLimitBytes: total !== null ? total * 1024 : null,
    pids: pids ? Number(pids[1]) : null,
    netRxBytes: rx,
    netTxBytes: tx,
  };
}

/**
 * QEMU's resident memory minus the resident part of the guest RAM mapping, as Firecracker's
 * memory-overhead test computes it: what the VMM itself costs. The guest RAM is the anonymous
 * mapping of (about) the configured guest size.
 */
export function vmmOverheadBytes(smaps: string, guestBytes: number): { rss: number; guestRss: number; overhead: number } {
  let rss = 0;
  let guestRss = 0;
  let curSize = 0;
  let curAnon = false;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      curSize = parseInt(head[2] as string, 16) - parseInt(head[1] as string, 16);
      curAnon = (head[3] ?? '').trim() === '';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r) {
      const b = Number(r[1]) * 1024;
      rss += b;
      if (curAnon && curSize >= guestBytes && curSize <= guestBytes + 4 * 1024 * 1024) guestRss += b;
    }
  }
  return { rss, guestRss, overhead: rss - guestRss };
}

export function hostOverhead(pid: number | null, guestBytes: number): number | null {
  if (!pid) return null;
  try {
    return vmmOverheadBytes(fs.readFileSync(`/proc/${pid}/smaps`, 'utf8'), guestBytes).overhead;
  } catch {
    return null;
  }
}

/**
 * Bytes the guest read from and wrote to its disks, as QEMU's `query-blockstats` counts them
 * (the sum over its block devices); shared folders (virtiofs) are not block devices.
 */
export function blockBytes(answer: unknown): { read: number; write: number } | null {
  if (!Array.isArray(answer)) return null;
  let read = 0;
  let write = 0;
  for (const dev of answer as { stats?: { rd_bytes?: unknown; wr_bytes?: unknown } }[]) {
    read += typeof dev.stats?.rd_bytes === 'number' ? dev.stats.rd_bytes : 0;
    write += typeof dev.stats?.wr_bytes === 'number' ? dev.stats.wr_bytes : 0;
  }
  return { read, write };
}
