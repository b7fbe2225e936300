import { JUDGED_KINDS, type CompareResult, type JudgedKind, type MeasuredKind, type MetricResult, type NotComparableReason, type Summary, type VerdictStatus } from '../core/compare-result.js';
import { CLAIMS, MIN_SAMPLES, TOLERANCE, WORDS, type Claim } from './claims.js';
import { EXAMPLE_SERVER } from './example-server.js';
import { fmtValue } from './format.js';

/**
 * Verdicts per claim, derived from the measurements only (pure functions: the tests feed them
 * synthetic samples). The measured quantity is an interval, the 95 % CI of the median; a claim
 * is a set of values S. Four answers a reader can act on:
 *
 * - within: the whole interval lies in S (within the comparison's range);
 * - better: all of it lies on the better side of S (better than the comparison says);
 * - worse: all of it lies on the worse side (worse than it says);
 * - not-comparable: with the reason: too few independent samples, an interval across S's bound,
 *   a kind or reference not measured, or an emulated VM figure that cannot decide.
 *
 * A VM figure measured under TCG stands for a KVM figure that is at least as good (emulation
 * is never faster nor leaner than KVM), so its interval is stretched to the best end before the
 * test: such a figure can show that a VM does better than a claimed cost, or confirm that it is
 * cheap, but it can never confirm that a VM is as costly as claimed, nor that it does worse.
 */
export interface Verdict {
  status: VerdictStatus;
  reason?: NotComparableReason;
  text: string;
}

type Interval = [number, number];

export const VERDICT_WORDS: Record<VerdictStatus, string> = {
  within: 'within the comparison\'s range',
  better: 'better than it says',
  worse: 'worse than it says',
  'not-comparable': 'not comparable here',
};

export const REASON_WORDS: Record<NotComparableReason, string> = {
  tcg: 'emulated (TCG)',
  'too-few-samples': 'too few runs',
  straddles: 'the interval straddles the bound',
  'not-measured': 'not measured',
};

const say = (status: VerdictStatus, why: string, reason?: NotComparableReason): Verdict => ({
  status, ...(reason ? { reason } : {}),
  text: status === 'not-comparable' && reason ? `${VERDICT_WORDS[status]} (${REASON_WORDS[reason]}): ${why}` : `${VERDICT_WORDS[status]}: ${why}`,
});

/** The claim as a set of values, [lo, hi]; relative claims need the reference's median. */
export function claimSet(c: Claim, ref?: number): Interval | null {
  const s = c.shape;
  const tol = c.derive === 'density-sized' ? TOLERANCE : 0;
  switch (s.type) {
    case 'range':
      return [s.lo * (1 - tol), s.hi * (1 + tol)];
    case 'below':
      return [-Infinity, s.hi];
    case 'above-ref':
      return ref === undefined ? null : [ref, Infinity];
    case 'below-ref':
      return ref === undefined ? null : [-Infinity, ref];
    case 'near-ref':
      return ref === undefined ? null : [-Infinity, ref * s.factor];
  }
}

export interface Measured {
  /** The median and its CI, in the claim's unit (after derivation). */
  median: number;
  ci: Interval;
  unit: string;
  /** Independent samples behind the interval. */
  n: number;
  /** A size: the same every time it is read, so one sample decides. */
  deterministic?: boolean;
}

export interface JudgeOptions {
  /** The judged figure is a VM's, measured under TCG. */
  emulated: boolean;
  /** The reference's median, for relative claims. */
  ref?: number;
  /** The reference is a VM figure measured under TCG: only an upper bound of KVM's. */
  refEmulated?: boolean;
}

export function judge(c: Claim, m: Measured, opts: JudgeOptions): Verdict {
  const set = claimSet(c, opts.ref);
  if (!set) return say('not-comparable', `the ${c.shape.type === 'range' || c.shape.type === 'below' ? 'figure' : `reference it is compared with (${'ref' in c.shape ? c.shape.ref : ''})`} was not measured`, 'not-measured');
  const shown = fmtValue(m.median, m.unit);
  const nText = `n=${m.n}`;
  if (!m.deterministic && m.n < MIN_SAMPLES) {
    return say('not-comparable', `${shown} from ${m.n} independent sample${m.n === 1 ? '' : 's'}; a verdict needs at least ${MIN_SAMPLES} (more --runs)`, 'too-few-samples');
  }
  let [lo, hi] = m.ci[0] <= m.ci[1] ? m.ci : ([m.ci[1], m.ci[0]] as Interval);
  lo = Math.min(lo, m.median);
  hi = Math.max(hi, m.median);
  const tcg = opts.emulated && c.dependsOnAccelerator;
  if (tcg) {
    if (c.better === 'lower') lo = -Infinity;
    else hi = Infinity;
  }
  const ci = m.deterministic || m.n <= 1 ? nText : `95 % CI ${fmtValue(m.ci[0], m.unit)} - ${fmtValue(m.ci[1], m.unit)}, ${nText}`;
  const refTcg = !!opts.refEmulated && c.dependsOnAccelerator;
  const betterSide = (): boolean => (c.better === 'lower' ? hi < set[0] : lo > set[1]);
  const worseSide = (): boolean => (c.better === 'lower' ? lo > set[1] : hi < set[0]);
  if (refTcg) {
    // The reference stands for a KVM figure somewhere at or below it: only "worse" survives.
    if (c.shape.type === 'below-ref' && lo > set[1]) return say('worse', `${shown}, above even the emulated reference (${ci})`);
    return say('not-comparable', `${shown}; the VM figure it is compared with was measured emulated (TCG), and KVM's could be lower`, 'tcg');
  }
  const inside = lo >= set[0] && hi <= set[1];
  if (inside) return say('within', `${shown} (${ci})${tcg ? '; measured emulated (TCG), and KVM is at least as good' : ''}`);
  if (betterSide()) return say('better', `${shown} (${ci})${tcg ? '; even emulated (TCG), so KVM does at least as well' : ''}`);
  if (worseSide()) return say('worse', `${shown} (${ci})`);
  if (tcg) return say('not-comparable', `${shown} measured emulated (TCG): a TCG figure cannot confirm a KVM claim, nor show that KVM does worse`, 'tcg');
  return say('not-comparable', `${shown}, but its ${ci} straddles the claim's bound; more runs (--runs) may decide`, 'straddles');
}

/** How many instances of the example's size fit in its 128 GiB, each with the measured marginal memory on top. */
export function sizedCount(kind: JudgedKind, marginalBytes: number): number {
  const size = kind === 'container' ? EXAMPLE_SERVER.containerBytes : EXAMPLE_SERVER.vmBytes;
  return Math.floor(EXAMPLE_SERVER.memoryBytes / (size + Math.max(0, marginalBytes)));
}

/** The quantity the claim is about, from the metric's summary (and other metrics, for derived ones). */
export function measuredFor(c: Claim, metric: MetricResult, kind: JudgedKind, all: MetricResult[]): Measured | string {
  const s: Summary | undefined = metric.kinds[kind];
  if (!s) return metric.notMeasured?.[kind] ?? `${kind} was not measured`;
  const det = metric.deterministic ?? false;
  switch (c.derive) {
    case 'overhead-percent':
      return { median: (s.median - 1) * 100, ci: [(s.ci95[0] - 1) * 100, (s.ci95[1] - 1) * 100], unit: 'percent', n: s.n };
    case 'disk-per-vm': {
      const root = all.find((m) => m.id === 'disk_rootdisk_bytes')?.kinds[kind];
      const v = s.median + (root?.median ?? 0);
      return { median: v, ci: [v, v], unit: 'bytes', n: s.n, deterministic: true };
    }
    case 'density-sized':
      // The measured marginal memory per instance decides: the example's instance size plus it.
      // More memory per instance is fewer instances, so the CI's ends swap.
      return { median: sizedCount(kind, s.median), ci: [sizedCount(kind, s.ci95[1]), sizedCount(kind, s.ci95[0])], unit: 'count', n: s.n };
    default:
      return { median: s.median, ci: s.ci95, unit: metric.unit, n: s.n, ...(det ? { deterministic: true } : {}) };
  }
}

const isVm = (k: MeasuredKind): boolean => k === 'vm' || k === 'vm-os' || k === 'hybrid';

/** Adds claim, verdict, verdictStatus and verdictReason to every metric the common comparison makes a claim about. */
export function applyVerdicts(result: CompareResult): CompareResult {
  const emulated = result.context.emulated;
  for (const metric of result.metrics) {
    const words = WORDS[metric.id];
    if (words) {
      // How, not how long: the comparison's words beside the figures, no verdict.
      metric.claim = {};
      for (const kind of JUDGED_KINDS) {
        const w = kind === 'container' ? words.container : words.vm;
        if (w && (metric.kinds[kind] || metric.notMeasured?.[kind])) metric.claim[kind] = w;
      }
    }
    const claims = CLAIMS[metric.id];
    if (!claims) continue;
    metric.claim = {};
    metric.verdict = {};
    metric.verdictStatus = {};
    metric.verdictReason = {};
    for (const kind of JUDGED_KINDS) {
      const c = kind === 'container' ? claims.container : claims.vm;
      if (!c) continue;
      const skipped = result.context.kinds?.[kind];
      // A kind that was neither measured nor listed (an older result, or vm-os not asked for) gets no row entry.
      if (!skipped && !metric.kinds[kind] && !metric.notMeasured?.[kind]) continue;
      metric.claim[kind] = c.text;
      let v: Verdict;
      if (skipped && !skipped.measured) v = say('not-comparable', skipped.reason ?? `${kind} is not available here`, 'not-measured');
      else {
        const m = measuredFor(c, metric, kind, result.metrics);
        const refKind = 'ref' in c.shape ? c.shape.ref : undefined;
        const shared = metric.sharedWith?.[kind];
        if (typeof m === 'string') v = say('not-comparable', m, 'not-measured');
        else if (shared !== undefined && shared === refKind) {
          // The claim compares this kind's artefact with the reference's, and they are one artefact.
          v = say('better', `${fmtValue(m.median, m.unit)}: the same artefact as the ${shared}'s (isola's microVM boots the OCI image), so nothing larger or slower to move`);
        } else {
          const ref = refKind ? metric.kinds[refKind]?.median : undefined;
          v = judge(c, m, {
            emulated: isVm(kind) && emulated,
            ...(ref !== undefined ? { ref } : {}),
            ...(refKind && isVm(refKind) && emulated ? { refEmulated: true } : {}),
          });
        }
      }
      metric.verdict[kind] = v.text;
      metric.verdictStatus[kind] = v.status;
      if (v.reason) metric.verdictReason[kind] = v.reason;
    }
    if (Object.keys(metric.verdictReason).length === 0) delete metric.verdictReason;
  }
  return result;
}
