import fs from 'node:fs';
import type { ProcessInfo } from '../core/types.js';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux isola runs on). */
export const CLK_TCK = 100;

let bootTimeMs: number | undefined;
function bootTime(): number {
  if (bootTimeMs === undefined) {
    const m = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    bootTimeMs = Number(m?.[1] ?? 0) * 1000;
  }
  return bootTimeMs;
}

/** ps's STIME: HH:MM today, else the month and day. */
export function startedText(startMs: number, now = Date.now()): string {
  const d = new Date(startMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (now - startMs < 24 * 3600_000) return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return `${d.toLocaleString('en', { month: 'short' })}${pad(d.getDate())}`;
}

/** One process of this host, as `isola top` shows it; null when it is gone. */
export function processInfo(pid: number): ProcessInfo | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    return {
      uid,
      pid,
      ppid: Number(f[1]),
      cpuSeconds: (Number(f[11]) + Number(f[12])) / CLK_TCK,
      started: startedText(bootTime() + (Number(f[19]) / CLK_TCK) * 1000),
      cmd: cmdline || `[${comm}]`,
    };
  } catch {
    return null;
  }
}
