import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMedianCI, median, pairRatios, pooledQuantileSummary, quantile, seededRandom, slope, summarize } from '../../../src/bench/stats.js';

test('median and quantiles interpolate like numpy (type 7)', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.ok(Math.abs(quantile(xs, 0.1) - 1.9) < 1e-12);
  assert.ok(Math.abs(quantile(xs, 0.9) - 9.1) < 1e-12);
  assert.ok(Number.isNaN(median([])));
});

test('the seeded generator is reproducible and roughly uniform', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02);
});

test('bootstrap CI of the median: reproducible, contains the median, shrinks with more samples', () => {
  const rnd = seededRandom(7);
  const small = Array.from({ length: 10 }, () => 100 + rnd() * 20);
  const large = Array.from({ length: 400 }, () => 100 + rnd() * 20);
  const ci1 = bootstrapMedianCI(small, 1);
  assert.deepEqual(ci1, bootstrapMedianCI(small, 1));
  assert.ok(ci1[0] <= median(small) && median(small) <= ci1[1]);
  const ci2 = bootstrapMedianCI(large, 1);
  assert.ok(ci2[1] - ci2[0] < ci1[1] - ci1[0]);
  assert.ok(ci2[0] > 105 && ci2[1] < 115, `CI ${ci2} should be near the true median 110`);
  assert.deepEqual(bootstrapMedianCI([5], 1), [5, 5]);
});

test('summarize keeps the raw samples and n, and a constant sample has a zero-width CI', () => {
  const s = summarize([2, 2, 2, 2]);
  assert.equal(s.n, 4);
  assert.equal(s.median, 2);
  assert.deepEqual(s.ci95, [2, 2]);
  assert.deepEqual(s.samples, [2, 2, 2, 2]);
  const t = summarize([10, 1, 5]);
  assert.deepEqual(t.samples, [10, 1, 5], 'samples keep their measuring order');
  assert.equal(t.p10, 1.8);
});

test('pair ratios and slope', () => {
  assert.deepEqual(pairRatios([2, 6, 9], [1, 3]), [2, 2]);
  assert.equal(slope([1, 2, 4, 8], [10, 20, 40, 80]), 10);
  assert.ok(Number.isNaN(slope([1], [1])));
});

test('pooledQuantileSummary: the p99 of every observation pooled, not the median of the runs\' p99s; runs are the samples', () => {
  // 6 runs of 1000 round trips at 15 us; a slow spell of 40 round trips at 40 us in 2 of them. The
  // median of the runs' p99s says 15 (4 runs had no spell), yet 80 of the 6000 round trips (1.3 %)
  // were slow: the p99 of the round trips is 40.
  const quiet = Array.from({ length: 1000 }, () => 15);
  const spell = [...Array.from({ length: 960 }, () => 15), ...Array.from({ length: 40 }, () => 40)];
  const runs = [spell, quiet, quiet, spell, quiet, quiet];
  const s = pooledQuantileSummary(runs, 0.99);
  assert.equal(s.n, 6);
  assert.deepEqual(s.samples, [40, 15, 15, 40, 15, 15]);
  assert.equal(median(s.samples), 15);
  assert.equal(s.median, 40);
  assert.equal(s.p10, 15);
  assert.equal(s.p90, 40);
  assert.match(s.statistic ?? '', /^p99 of the 6000 observations of 6 runs pooled/);
  // Three runs of six with a spell: the runs' p99s have median 27.5, a figure no round trip had;
  // pooled, 120 of 6000 (2 %) are slow and the p99 is 40.
  const half = pooledQuantileSummary([spell, spell, spell, quiet, quiet, quiet], 0.99);
  assert.equal(median(half.samples), 27.5);
  assert.equal(half.median, 40);
  // No spell at all: the pooled p99 is the runs' common figure.
  assert.equal(pooledQuantileSummary([quiet, quiet, quiet], 0.99).median, 15);
});

test('pooledQuantileSummary: the interval resamples whole runs, is reproducible and holds the figure; empty runs are dropped', () => {
  const rnd = seededRandom(3);
  const runs = Array.from({ length: 8 }, (_, r) => Array.from({ length: 500 }, () => 10 + rnd() * (r % 2 ? 30 : 10)));
  const a = pooledQuantileSummary(runs, 0.99, 1);
  assert.deepEqual(a, pooledQuantileSummary(runs, 0.99, 1));
  assert.ok(a.ci95[0] <= a.median && a.median <= a.ci95[1], `${a.ci95} holds ${a.median}`);
  assert.ok(a.ci95[1] > a.ci95[0]);
  assert.equal(a.p10 <= a.p90, true);
  const one = pooledQuantileSummary([[1, 2, 3], [], [Number.NaN]], 0.5);
  assert.equal(one.n, 1);
  assert.deepEqual(one.ci95, [2, 2]);
  const none = pooledQuantileSummary([], 0.99);
  assert.equal(none.n, 0);
  assert.ok(Number.isNaN(none.median));
});
