import type { HealthConfig } from '../layout.js';
import { execForm, type Flag } from './dockerfile.js';
import { goDurationNs } from '../../core/units.js';

/**
 * A Go duration ("30s", "1m30s", "500ms"), as HEALTHCHECK flags are written, in nanoseconds:
 * the unit Docker stores in the image config.
 */
export function parseDuration(text: string): number {
  const ns = goDurationNs(text);
  if (ns === null) throw new Error(`"${text}" is not a duration (use a number with a unit: 30s, 1m30s, 500ms)`);
  return ns;
}

const DURATION_FLAGS: Record<string, 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'> = {
  interval: 'Interval', timeout: 'Timeout', 'start-period': 'StartPeriod', 'start-interval': 'StartInterval',
};

/**
 * HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D] [--retries=N]
 * CMD command | NONE, as Docker records it: unset options are left out (the runtime's defaults
 * apply), a shell-form command is ["CMD-SHELL", command], an exec form ["CMD", argv...].
 * `shell` is unused by Docker here too: CMD-SHELL means the runtime's /bin/sh -c.
 */
export function parseHealthcheck(args: string, flags: Flag[]): HealthConfig {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(args.trim());
  const word = (m?.[1] ?? '').toUpperCase();
  const rest = (m?.[2] ?? '').trim();
  if (word === 'NONE') {
    if (rest !== '' || flags.length > 0) throw new Error('HEALTHCHECK NONE takes no options or arguments');
    return { Test: ['NONE'] };
  }
  if (word !== 'CMD') throw new Error(`unknown type "${m?.[1] ?? ''}" in HEALTHCHECK (use CMD or NONE)`);
  if (rest === '') throw new Error('HEALTHCHECK CMD needs a command');
  const exec = execForm(rest);
  const hc: HealthConfig = { Test: exec ? ['CMD', ...exec] : ['CMD-SHELL', rest] };
  for (const f of flags) {
    const field = DURATION_FLAGS[f.name];
    if (field) {
      const ns = parseDuration(f.value ?? '');
      if (ns !== 0 && ns < 1e6) throw new Error(`--${f.name} cannot be less than 1ms`);
      if (ns > 0) hc[field] = ns;
    } else if (f.name === 'retries') {
      const n = Number(f.value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--retries must be a whole number, not "${f.value ?? ''}"`);
      if (n > 0) hc.Retries = n;
    } else {
      throw new Error(`unknown flag --${f.name} for HEALTHCHECK (it takes --interval, --timeout, --start-period, --start-interval and --retries)`);
    }
  }
  return hc;
}
