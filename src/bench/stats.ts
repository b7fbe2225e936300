import type { Summary } from '../core/compare-result.js';
import { seededRandom } from '../util/random.js';

/**
 * The statistics every figure carries: n, median, p10/p90 and a bootstrap 95 % confidence
 * interval of the median, computed with a seeded generator so that the same samples always
 * give the same interval (a report can be recomputed from its raw samples).
 */

export { seededRandom };

/** Quantile of sorted data with linear interpolation between order statistics (R type 7, numpy's default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (h - lo);
}

export const sortNum = (xs: readonly number[]): number[] => [...xs].sort((x, y) => x - y);
export const quantile = (xs: readonly number[], q: number): number => quantileSorted(sortNum(xs), q);
export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** Percentile bootstrap of the median: resample with replacement B times, take the 2.5th and 97.5th percentile. */
export function bootstrapMedianCI(samples: readonly number[], seed = 1, resamples = 2000): [number, number] {
  const n = samples.length;
  if (n === 0) return [NaN, NaN];
  if (n === 1) return [samples[0] as number, samples[0] as number];
  const rnd = seededRandom(seed);
  const medians = new Float64Array(resamples);
  const buf = new Float64Array(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) buf[i] = samples[Math.floor(rnd() * n)] as number;
    buf.sort();
    medians[b] = quantileSorted(buf as unknown as number[], 0.5);
  }
  medians.sort();
  const m = medians as unknown as number[];
  return [quantileSorted(m, 0.025), quantileSorted(m, 0.975)];
}

export function summarize(samples: readonly number[], seed = 1): Summary {
  const s = sortNum(samples.filter((x) => Number.isFinite(x)));
  return {
    n: s.length,
    median: quantileSorted(s, 0.5),
    p10: quantileSorted(s, 0.1),
    p90: quantileSorted(s, 0.9),
    ci95: bootstrapMedianCI(s, seed),
    samples: [...samples],
  };
}

/** A/B pair by pair: a[i] / b[i] for the runs that were measured next to each other. */
export function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((a[i] as number) / (b[i] as number));
  return out;
}

/** Least-squares slope of y over x (marginal cost per instance in density). */
export function slope(x: readonly number[], y: readonly number[]): number {
  const n = Math.min(x.length, y.length);
  if (n < 2) return NaN;
  const mx = x.slice(0, n).reduce((a, v) => a + v, 0) / n;
  const my = y.slice(0, n).reduce((a, v) => a + v, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((x[i] as number) - mx) * ((y[i] as number) - my);
    den += ((x[i] as number) - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/**
 * A quantile of every observation of every run pooled, the runs being the independent samples:
 * `median` is the q-quantile of all observations together (a run's tail counts by how many of its
 * observations are in it, not by being one run of n); `samples`, `p10` and `p90` are the runs' own
 * q-quantiles (how far runs differ); `ci95` is a bootstrap that resamples whole runs (with the
 * same reproducible generator, so it can be recomputed) and takes the pooled quantile of each resample.
 */
export function pooledQuantileSummary(runs: readonly (readonly number[])[], q: number, seed = 1, resamples = 500): Summary {
  const kept = runs.map((r) => r.filter((x) => Number.isFinite(x))).filter((r) => r.length > 0);
  const perRun = kept.map((r) => quantile(r, q));
  const pooledOf = (picked: readonly (readonly number[])[]): number => {
    const all = new Float64Array(picked.reduce((a, r) => a + r.length, 0));
    let i = 0;
    for (const r of picked) for (const x of r) all[i++] = x;
    all.sort();
    return quantileSorted(all as unknown as number[], q);
  };
  const s = sortNum(perRun);
  const label = `p${Math.round(q * 100)} of the ${kept.reduce((a, r) => a + r.length, 0)} observations of ${kept.length} runs pooled; ci95 from ${resamples} resamples of whole runs`;
  if (kept.length === 0) return { n: 0, median: NaN, p10: NaN, p90: NaN, ci95: [NaN, NaN], samples: [], statistic: label };
  const pooled = pooledOf(kept);
  let ci: [number, number] = [pooled, pooled];
  if (kept.length > 1) {
    const rnd = seededRandom(seed);
    const stats = new Float64Array(resamples);
    for (let b = 0; b < resamples; b++) stats[b] = pooledOf(Array.from({ length: kept.length }, () => kept[Math.floor(rnd() * kept.length)] as number[]));
    stats.sort();
    ci = [quantileSorted(stats as unknown as number[], 0.025), quantileSorted(stats as unknown as number[], 0.975)];
  }
  return { n: kept.length, median: pooled, p10: quantileSorted(s, 0.1), p90: quantileSorted(s, 0.9), ci95: ci, samples: perRun, statistic: label };
}
