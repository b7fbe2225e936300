import { invalid } from '../core/errors.js';
import { goDurationNs } from '../core/units.js';

/**
 * A point in time as `--since` and `--until` take it (Docker's rules): an RFC 3339 date or date
 * and time, a Unix time in seconds (with a fraction), or a duration before now ("10m", "1h30m").
 * Milliseconds since the epoch.
 */
export function parseTimeArg(text: string, flag: string, now = Date.now()): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const ns = goDurationNs(t);
  if (ns !== null) return now - Math.round(ns / 1e6);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw invalid(`invalid ${flag} "${text}"`, `use a time like 2024-05-01T10:00:00Z, a Unix time, or a duration before now like 10m`);
}
