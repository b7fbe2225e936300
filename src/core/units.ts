import { invalid } from './errors.js';

const UNIT: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, ki: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, ti: 1024 ** 4, tib: 1024 ** 4,
};

/** Parses a Docker-style size ("64m", "1.5g", "512Mi", "1048576") into bytes. */
export function parseBytes(text: string, flag = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  if (!m || !(unit in UNIT)) {
    throw invalid(`invalid ${flag} "${text}"`, 'use a number with an optional unit b, k, m, g or t (for example 64m)');
  }
  const bytes = Math.floor(Number(m[1]) * (UNIT[unit] ?? 1));
  if (bytes <= 0) throw invalid(`invalid ${flag} "${text}": must be greater than zero`, 'use for example 64m');
  return bytes;
}

/** Parses --cpus ("0.5", "2") into a positive number of CPUs. */
export function parseCpus(text: string): number {
  const n = Number(text);
  if (!/^\s*\d*(\.\d+)?\s*$/.test(text) || !Number.isFinite(n) || n <= 0) {
    throw invalid(`invalid --cpus "${text}": must be a number greater than zero`, 'use for example --cpus 0.5');
  }
  return n;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

const DURATION_UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * A Go duration ("30s", "1m30s", "500ms", "0") in nanoseconds, as Docker writes HEALTHCHECK and
 * --health-* values; null when the text is not one.
 */
export function goDurationNs(text: string): number | null {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (DURATION_UNIT_NS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (pos !== text.length || text.length === 0) return null;
  return Math.round(total);
}

/** A --health-* style duration flag in milliseconds; a bad one is a one-line INVALID_ARGUMENT. */
export function parseDurationMs(text: string, flag: string): number {
  const ns = goDurationNs(text.trim());
  if (ns === null) throw invalid(`invalid ${flag} "${text}"`, 'use a number with a unit: 500ms, 30s, 1m30s');
  return Math.round(ns / 1e6);
}
