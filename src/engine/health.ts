import { invalid } from '../core/errors.js';
import type { HealthSpec, ImageHealthcheck } from '../core/types.js';
import { parseDurationMs } from '../core/units.js';
import type { HealthResult, HealthState } from '../state/instances.js';

/**
 * Health checks as Docker runs them (moby daemon/health.go), in pure functions: which check is
 * in force (the image's HEALTHCHECK overlaid with --health-*), the command to exec, and how a
 * result moves the state. The loop that runs them is `isola _health` (health-checker.ts).
 */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 };
/** Docker keeps this many results and this much of each one's output. */
export const HEALTH_LOG_KEPT = 5;
export const HEALTH_OUTPUT_MAX = 4096;

export interface HealthFlags {
  cmd?: string;
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  startInterval?: string;
  retries?: string;
  none?: boolean;
}

function duration(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDurationMs(text, flag);
  if (ms !== 0 && ms < 1) throw invalid(`${flag} "${text}" is below 1ms`, `use 0 for the default or at least 1ms, e.g. ${flag} 30s`);
  return ms;
}

/** The check in force for a new instance, or undefined when there is none. Bad flags are one-line errors. */
export function resolveHealth(image: ImageHealthcheck | undefined, f: HealthFlags): HealthSpec | undefined {
  const interval = duration(f.interval, '--health-interval');
  const timeout = duration(f.timeout, '--health-timeout');
  const startPeriod = duration(f.startPeriod, '--health-start-period');
  const startInterval = duration(f.startInterval, '--health-start-interval');
  let retries: number | undefined;
  if (f.retries !== undefined) {
    if (!/^\d+$/.test(f.retries)) throw invalid(`invalid --health-retries "${f.retries}"`, 'use a whole number, e.g. --health-retries 3');
    retries = Number(f.retries);
  }
  const anyOption = [f.cmd, interval, timeout, startPeriod, startInterval, retries].some((v) => v !== undefined);
  if (f.none) {
    if (anyOption) throw invalid('--no-healthcheck conflicts with --health-* options', 'drop one of them');
    return undefined;
  }
  const test = f.cmd !== undefined ? (f.cmd.trim() === '' ? null : ['CMD-SHELL', f.cmd]) : image?.Test;
  if (f.cmd !== undefined && test === null) throw invalid('--health-cmd is empty', 'give a command, e.g. --health-cmd "curl -f http://localhost/"');
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  if ((test[0] === 'CMD' && test.length < 2) || (test[0] === 'CMD-SHELL' && !test[1]) || (test[0] !== 'CMD' && test[0] !== 'CMD-SHELL')) {
    throw invalid(`the image's HEALTHCHECK test ${JSON.stringify(test)} is not one isola can run`, 'override it with --health-cmd, or --no-healthcheck');
  }
  const ns = (v: number | undefined) => (v === undefined || v === 0 ? undefined : Math.round(v / 1e6));
  const pick = (flag: number | undefined, img: number | undefined, def: number) => (flag !== undefined && flag !== 0 ? flag : img ?? def);
  return {
    test,
    intervalMs: pick(interval, ns(image?.Interval), HEALTH_DEFAULTS.intervalMs),
    timeoutMs: pick(timeout, ns(image?.Timeout), HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: pick(startPeriod, ns(image?.StartPeriod), HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: pick(startInterval, ns(image?.StartInterval), HEALTH_DEFAULTS.startIntervalMs),
    retries: retries !== undefined && retries !== 0 ? retries : image?.Retries || HEALTH_DEFAULTS.retries,
  };
}

/** The argv to exec: CMD's own, or CMD-SHELL's command under /bin/sh -c. */
export function healthArgv(h: HealthSpec): string[] {
  return h.test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', h.test[1] ?? ''] : h.test.slice(1);
}

export const startingHealth = (): HealthState => ({ status: 'starting', failingStreak: 0, log: [], checker: null });

/**
 * The state after one result. Success: healthy. Failure: the failing streak grows, except while
 * the instance is still starting and inside its start period; at `retries` it is unhealthy.
 */
export function applyHealthResult(state: HealthState, h: HealthSpec, r: HealthResult, startedAt: string): HealthState {
  const log = [...state.log, { ...r, output: r.output.slice(0, HEALTH_OUTPUT_MAX) }].slice(-HEALTH_LOG_KEPT);
  if (r.exitCode === 0) return { ...state, status: 'healthy', failingStreak: 0, log };
  const inStartPeriod = state.status === 'starting' && Date.parse(r.start) - Date.parse(startedAt) < h.startPeriodMs;
  if (inStartPeriod) return { ...state, log };
  const failingStreak = state.failingStreak + 1;
  return { ...state, failingStreak, status: failingStreak >= h.retries ? 'unhealthy' : state.status, log };
}

/** How long to wait before the next check: the start interval while starting within the start period. */
export function nextProbeDelay(state: HealthState, h: HealthSpec, startedAt: string, now = Date.now()): number {
  const inStartPeriod = state.status === 'starting' && now - Date.parse(startedAt) < h.startPeriodMs;
  return inStartPeriod ? h.startIntervalMs : h.intervalMs;
}
