import type { Kind } from '../core/types.js';
import type { MeasuredKind, MetricResult } from '../core/compare-result.js';
import type { InstanceRecord } from '../state/instances.js';
import type { Lab } from './lab.js';
import type { Progress } from './progress.js';

/**
 * What every scenario body gets. A scenario measures one metric for every kind in `kinds`
 * (and natively where the metric has a native baseline), knowing nothing about any kind but
 * what the Driver interface and the Engine give it: a new isolation kind gets every metric.
 */
export interface ScenarioContext {
  lab: Lab;
  kinds: Kind[];
  runs: number;
  warmup: number;
  quick: boolean;
  progress: Progress;
  /**
   * Several long-lived idle instances per kind (PROBES_PER_KIND), each running the TCP echo
   * server PROBE_ARGV: memory reads each once, CPU, I/O and network rotate over them, so every
   * interval rests on separate instances, not on repeated reads of one.
   */
  probes: Map<Kind, InstanceRecord[]>;
  /** Host path of the isola-bench helper; copied into each probe instance at HELPER_PATH. */
  helper: string | null;
  /** Why the helper is missing, when it is. */
  helperMissing?: string;
  /** Budget for density, in bytes. */
  densityBudget: number;
  /** Per-kind memory facts other scenarios found (density reads what memory measured). */
  facts: Map<string, number>;
}

/** Probe instances per kind: enough for a verdict (MIN_SAMPLES), few enough for --quick. */
export const PROBES_PER_KIND = 3;

/** The probe of round `round` (warm-up rounds are negative): round by round over the instances. */
export function probeFor<T>(list: readonly T[] | undefined, round: number): T | undefined {
  if (!list || list.length === 0) return undefined;
  const i = ((round % list.length) + list.length) % list.length;
  return list[i];
}

/** The probe workload: an idle TCP echo server (busybox nc) on this port. */
export const PROBE_PORT = 7000;
export const PROBE_ARGV = ['nc', '-ll', '-p', String(PROBE_PORT), '-e', 'cat'];

/** Programs the image must have for compare, and what each is for. */
export const NEEDED_PROGRAMS: Record<string, string> = {
  sh: 'the probe commands',
  cat: 'copying the benchmark helper in and the echo server',
  chmod: 'making the helper executable',
  nc: 'the network echo server (busybox nc with -ll and -e)',
  awk: 'the CPU loop',
  echo: 'the first-output marker',
  sleep: 'idle instances for memory and density',
};

export type Metric = MetricResult;

export function notMeasured(kinds: readonly (MeasuredKind)[], reason: string): Partial<Record<MeasuredKind, string>> {
  return Object.fromEntries(kinds.map((k) => [k, reason]));
}

export const MiB = 1024 * 1024;
