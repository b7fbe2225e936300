import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyVerdicts, judge } from '../../../src/bench/verdict.js';
import { CLAIMS } from '../../../src/bench/claims.js';
import { summarize } from '../../../src/bench/stats.js';
import type { CompareResult, MetricResult } from '../../../src/core/compare-result.js';

const around = (center: number, spread: number, n = 20) => Array.from({ length: n }, (_, i) => center + ((i % 5) - 2) * (spread / 2));

function result(metrics: MetricResult[], emulated: boolean): CompareResult {
  return {
    format: 'isola-compare', version: 2,
    context: {
      host: { cpu: 'test', cores: 2, memoryBytes: 1, kernel: 'Linux' }, accelerator: emulated ? 'tcg' : 'kvm', emulated,
      runtime: 'runc', image: 'base', startedAt: '2025-01-01T00:00:00Z', quick: false,
      kinds: { native: { measured: true }, container: { measured: true }, vm: { measured: true } },
    },
    metrics,
  };
}

test('container startup < 1 s: holds for 150 ms, does not hold for 1.5 s, not measurable when the CI straddles 1 s', () => {
  const c = CLAIMS.startup_first_output_ms?.container;
  assert.ok(c);
  const m = (xs: number[]) => { const s = summarize(xs); return { median: s.median, ci: s.ci95, unit: 'ms' }; };
  assert.equal(judge(c, m(around(150, 20)), { emulated: false }).status, 'holds');
  assert.equal(judge(c, m(around(1500, 50)), { emulated: false }).status, 'does-not-hold');
  assert.equal(judge(c, m([700, 900, 1000, 1100, 1300]), { emulated: false }).status, 'not-measurable');
});

test('a TCG VM figure refutes a claimed cost it beats, but never confirms a KVM claim', () => {
  const startup: MetricResult = { id: 'startup_first_output_ms', unit: 'ms', kinds: { vm: summarize(around(2000, 100)), container: summarize(around(150, 10)) } };
  const r = applyVerdicts(result([startup], true));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'does-not-hold');
  assert.match(r.metrics[0]?.verdict?.vm ?? '', /even emulated \(TCG\)/);
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'holds');

  // 60 s under TCG lies inside 30 s - 5 min, but KVM could be faster: cannot confirm.
  const slow: MetricResult = { id: 'startup_first_output_ms', unit: 'ms', kinds: { vm: summarize(around(60_000, 1000)) } };
  const r2 = applyVerdicts(result([slow], true));
  assert.equal(r2.metrics[0]?.verdictStatus?.vm, 'not-measurable');
  assert.match(r2.metrics[0]?.verdict?.vm ?? '', /cannot confirm or refute a KVM claim/);
  // The same figure under KVM confirms it.
  assert.equal(applyVerdicts(result([{ ...slow, kinds: { vm: summarize(around(60_000, 1000)) } }], false)).metrics[0]?.verdictStatus?.vm, 'holds');
});

test('CPU overhead is judged as a percentage of native; I/O as a ratio where higher is better', () => {
  const cpu: MetricResult = { id: 'cpu_overhead_ratio', unit: 'ratio', kinds: { vm: summarize(around(1.10, 0.01)), container: summarize(around(1.003, 0.001)) } };
  const io: MetricResult = { id: 'io_rand_ratio', unit: 'ratio', kinds: { vm: summarize(around(0.5, 0.02)), container: summarize(around(0.99, 0.005)) } };
  const r = applyVerdicts(result([cpu, io], false));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'holds'); // 10 % in 5-15 %
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'holds'); // 0.3 % < 1 %
  assert.equal(r.metrics[1]?.verdictStatus?.vm, 'does-not-hold'); // 50 % of native, worse than 80-95 %
  assert.match(r.metrics[1]?.verdict?.vm ?? '', /worse than claimed/);
  assert.equal(r.metrics[1]?.verdictStatus?.container, 'holds');
  // Under TCG, a worse-than-claimed I/O ratio says nothing about KVM.
  assert.equal(applyVerdicts(result([io], true)).metrics[0]?.verdictStatus?.vm, 'not-measurable');
});

test('network: VM "higher" is judged against the container, container "near-native" against native', () => {
  const net: MetricResult = { id: 'net_rtt_p50_us', unit: 'us', kinds: { native: summarize(around(20, 2)), container: summarize(around(24, 2)), vm: summarize(around(60, 4)) } };
  const r = applyVerdicts(result([net], false));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'holds');
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'holds');
  const far: MetricResult = { ...net, kinds: { native: summarize(around(20, 2)), container: summarize(around(80, 2)) } };
  assert.equal(applyVerdicts(result([far], false)).metrics[0]?.verdictStatus?.container, 'does-not-hold');
});

test('density uses the extrapolation to the example server with a 10 % tolerance; missing kinds get the reason', () => {
  const d: MetricResult = {
    id: 'density_marginal_bytes', unit: 'bytes',
    kinds: { vm: summarize([1e8]), container: summarize([5e5]) },
    extra: { vm: { sizedOnExampleServer: 31 }, container: { sizedOnExampleServer: 255 } },
  };
  const r = applyVerdicts(result([d], false));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'holds'); // 31 within 25-30 +-10 %
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'does-not-hold'); // 255 > 200 * 1.1
  const missing: MetricResult = { id: 'memory_overhead_bytes', unit: 'bytes', kinds: {}, notMeasured: { vm: 'QEMU is not installed' } };
  const r2 = applyVerdicts(result([missing], false));
  assert.equal(r2.metrics[0]?.verdictStatus?.vm, 'not-measurable');
  assert.match(r2.metrics[0]?.verdict?.vm ?? '', /QEMU is not installed/);
});

test('a kind skipped on this host is not measurable with the skip reason', () => {
  const m: MetricResult = { id: 'startup_first_output_ms', unit: 'ms', kinds: { container: summarize([100, 110]) } };
  const res = result([m], false);
  res.context.kinds = { ...res.context.kinds, vm: { measured: false, reason: 'KVM unusable and QEMU missing' } };
  const r = applyVerdicts(res);
  assert.equal(r.metrics[0]?.verdict?.vm, 'not measurable here: KVM unusable and QEMU missing');
});
