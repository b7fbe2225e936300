import { invalid } from '../core/errors.js';
import type { RestartPolicy, RestartPolicyName } from '../core/types.js';

/**
 * Docker's restart policies, decided without a daemon: the process that records an exit (the
 * monitor's exit command, a foreground run, a reconcile) asks `shouldRestart`, and the delay
 * comes from `nextBackoff` (moby's restartmanager: 100 ms doubling up to 1 minute, back to
 * 100 ms once a run lasted 10 seconds).
 */
const NAMES: readonly RestartPolicyName[] = ['no', 'on-failure', 'always', 'unless-stopped'];

/** `no`, `on-failure[:N]`, `always`, `unless-stopped`: a bad one is a one-line error. */
export function parseRestartPolicy(text: string): RestartPolicy {
  const [name = '', count, ...rest] = text.split(':');
  if (!(NAMES as readonly string[]).includes(name) || rest.length > 0) {
    throw invalid(`unknown restart policy "${text}"`, 'use --restart no, on-failure[:N], always or unless-stopped');
  }
  if (count === undefined) return { name: name as RestartPolicyName, maxRetries: 0 };
  if (name !== 'on-failure') throw invalid(`restart policy "${name}" takes no count (in "${text}")`, 'only on-failure takes one: --restart on-failure:3');
  if (!/^\d+$/.test(count) || Number(count) > 1_000_000) throw invalid(`invalid restart count "${count}" in "${text}"`, 'use a whole number of restarts, e.g. --restart on-failure:3');
  return { name: 'on-failure', maxRetries: Number(count) };
}

export function formatRestartPolicy(p: RestartPolicy | undefined): string {
  if (!p) return 'no';
  return p.name === 'on-failure' && p.maxRetries > 0 ? `on-failure:${p.maxRetries}` : p.name;
}

export interface ExitFacts {
  exitCode: number;
  /** Restarts the policy has done since the user last started it. */
  restartCount: number;
  /** `isola stop` (or kill, rm) ended it. */
  stoppedByUser: boolean;
  /** Decided by `isola system boot` for an instance the reboot ended or that was stopped before it. */
  afterReboot?: boolean;
}

/**
 * Whether the policy brings the instance back. A stop by the user is never undone, except that
 * `always` comes back after a reboot (Docker: "if it is manually stopped, it is restarted only
 * when the daemon restarts"); `unless-stopped` does not.
 */
export function shouldRestart(p: RestartPolicy | undefined, f: ExitFacts): boolean {
  if (!p || p.name === 'no') return false;
  if (f.afterReboot) {
    if (p.name === 'always') return true;
    if (f.stoppedByUser) return false;
    if (p.name === 'unless-stopped') return true;
  }
  if (f.stoppedByUser) return false;
  switch (p.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return f.exitCode !== 0 && (p.maxRetries === 0 || f.restartCount < p.maxRetries);
  }
}

export const BACKOFF_FIRST_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
/** A run at least this long resets the back-off. */
export const BACKOFF_RESET_AFTER_MS = 10_000;

/** The delay before the next restart, from the previous delay (0: none yet) and how long the run lasted. */
export function nextBackoff(previousMs: number, ranMs: number): number {
  const prev = ranMs >= BACKOFF_RESET_AFTER_MS ? 0 : previousMs;
  return prev === 0 ? BACKOFF_FIRST_MS : Math.min(prev * 2, BACKOFF_MAX_MS);
}
