import type { CompareResult, MetricResult, Summary, VerdictStatus } from '../core/compare-result.js';
import { CLAIMS, TOLERANCE, type Claim } from './claims.js';
import { fmtValue } from './format.js';

/**
 * Verdicts per claim, derived from the measurements only (pure functions: the tests feed them
 * synthetic samples). The measured quantity is an interval, the 95 % CI of the median; a claim
 * is a set of values S. The claim holds here when the whole interval lies in S, does not hold
 * when none of it does, and is not measurable when the interval straddles S's edge.
 *
 * A VM figure measured under TCG stands for a KVM figure that is at least as good (emulation
 * is never faster nor leaner than KVM), so its interval is stretched to the best end before the
 * test: such a figure can refute a claim that a VM is costly, or confirm that it is cheap, but
 * it can never confirm that a VM is as costly as claimed.
 */
export interface Verdict {
  status: VerdictStatus;
  text: string;
}

type Interval = [number, number];

const words: Record<VerdictStatus, string> = { holds: 'holds here', 'does-not-hold': 'does not hold here', 'not-measurable': 'not measurable here' };
const say = (status: VerdictStatus, why: string): Verdict => ({ status, text: `${words[status]}: ${why}` });

/** The claim as a set of values, [lo, hi]. */
export function claimSet(c: Claim, ref?: number): Interval | null {
  const s = c.shape;
  const tol = c.derive === 'density-sized' ? TOLERANCE : 0;
  switch (s.type) {
    case 'range':
      return [s.lo * (1 - tol), s.hi * (1 + tol)];
    case 'below':
      return [-Infinity, s.hi];
    case 'above-native':
      return ref === undefined ? null : [ref, Infinity];
    case 'near-native':
      return ref === undefined ? null : [-Infinity, ref * s.factor];
  }
}

export interface Measured {
  /** The median and its CI, in the claim's unit (after derivation). */
  median: number;
  ci: Interval;
  unit: string;
}

export function judge(c: Claim, m: Measured, opts: { emulated: boolean; ref?: number }): Verdict {
  const set = claimSet(c, opts.ref);
  if (!set) return say('not-measurable', 'the reference it is compared with (native or container) was not measured');
  const shown = fmtValue(m.median, m.unit);
  let [lo, hi] = m.ci[0] <= m.ci[1] ? m.ci : ([m.ci[1], m.ci[0]] as Interval);
  lo = Math.min(lo, m.median);
  hi = Math.max(hi, m.median);
  const tcg = opts.emulated && c.dependsOnAccelerator;
  if (tcg) {
    if (c.better === 'lower') lo = -Infinity;
    else hi = Infinity;
  }
  const inside = lo >= set[0] && hi <= set[1];
  const outside = hi < set[0] || lo > set[1];
  const ci = `95 % CI ${fmtValue(m.ci[0], m.unit)} - ${fmtValue(m.ci[1], m.unit)}`;
  if (inside) return say('holds', `${shown} (${ci})${tcg ? '; measured emulated (TCG), and KVM is at least as fast' : ''}`);
  if (outside) {
    const betterThanClaim = c.better === 'lower' ? hi < set[0] : lo > set[1];
    const dir = betterThanClaim ? 'better than claimed' : 'worse than claimed';
    return say('does-not-hold', `${shown}, ${dir} (${ci})${tcg ? '; even emulated (TCG), so KVM does at least as well' : ''}`);
  }
  if (tcg) return say('not-measurable', `${shown} measured emulated (TCG): a TCG figure cannot confirm or refute a KVM claim here`);
  return say('not-measurable', `${shown}, but its ${ci} straddles the claim's bound; more runs (--runs) may decide`);
}

/** The quantity the claim is about, from the metric's summary (and other metrics, for derived ones). */
export function measuredFor(c: Claim, metric: MetricResult, kind: 'vm' | 'container', all: MetricResult[]): Measured | string {
  const s: Summary | undefined = metric.kinds[kind];
  if (!s) return metric.notMeasured?.[kind] ?? `${kind} was not measured`;
  switch (c.derive) {
    case 'overhead-percent':
      return { median: (s.median - 1) * 100, ci: [(s.ci95[0] - 1) * 100, (s.ci95[1] - 1) * 100], unit: 'percent' };
    case 'disk-per-vm': {
      const root = all.find((m) => m.id === 'disk_rootdisk_bytes')?.kinds[kind];
      const v = s.median + (root?.median ?? 0);
      return { median: v, ci: [v, v], unit: 'bytes' };
    }
    case 'density-sized': {
      const ex = (metric.extra?.[kind] ?? {}) as { sizedOnExampleServer?: number };
      if (typeof ex.sizedOnExampleServer !== 'number') return 'no extrapolation was made';
      return { median: ex.sizedOnExampleServer, ci: [ex.sizedOnExampleServer, ex.sizedOnExampleServer], unit: 'count' };
    }
    default:
      return { median: s.median, ci: s.ci95, unit: metric.unit };
  }
}

/** Adds claim, verdict and verdictStatus to every metric the common comparison makes a claim about. */
export function applyVerdicts(result: CompareResult): CompareResult {
  const emulated = result.context.emulated;
  for (const metric of result.metrics) {
    const claims = CLAIMS[metric.id];
    if (!claims) continue;
    metric.claim = {};
    metric.verdict = {};
    metric.verdictStatus = {};
    for (const kind of ['vm', 'container'] as const) {
      const c = claims[kind];
      if (!c) continue;
      metric.claim[kind] = c.text;
      const skipped = result.context.kinds?.[kind];
      let v: Verdict;
      if (skipped && !skipped.measured) v = say('not-measurable', skipped.reason ?? `${kind} is not available here`);
      else {
        const m = measuredFor(c, metric, kind, result.metrics);
        if (typeof m === 'string') v = say('not-measurable', m);
        else {
          const ref = c.shape.type === 'above-native' ? metric.kinds.container?.median : c.shape.type === 'near-native' ? metric.kinds.native?.median : undefined;
          v = judge(c, m, { emulated: kind === 'vm' && emulated, ...(ref !== undefined ? { ref } : {}) });
        }
      }
      metric.verdict[kind] = v.text;
      metric.verdictStatus[kind] = v.status;
    }
  }
  return result;
}
