import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyVerdicts, judge, sizedCount, type Measured } from '../../../src/bench/verdict.js';
import { CLAIMS, MIN_SAMPLES } from '../../../src/bench/claims.js';
import { summarize } from '../../../src/bench/stats.js';
import { COMPARE_VERSION, type CompareResult, type MetricResult } from '../../../src/core/compare-result.js';

const around = (center: number, spread: number, n = 20) => Array.from({ length: n }, (_, i) => center + ((i % 5) - 2) * (spread / 2));
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

function result(metrics: MetricResult[], emulated: boolean): CompareResult {
  return {
    format: 'isola-compare', version: COMPARE_VERSION,
    context: {
      host: { cpu: 'test', cores: 2, memoryBytes: 1, kernel: 'Linux' }, accelerator: emulated ? 'tcg' : 'kvm', emulated,
      runtime: 'runc', image: 'base', startedAt: '2025-01-01T00:00:00Z', quick: false,
      kinds: { native: { measured: true }, container: { measured: true }, vm: { measured: true } },
    },
    metrics,
  };
}

const m = (xs: number[], unit = 'ms'): Measured => {
  const s = summarize(xs);
  return { median: s.median, ci: s.ci95, unit, n: s.n };
};

test('four verdicts: within the range, better, worse, or not comparable with the reason (straddles)', () => {
  const c = CLAIMS.startup_first_output_ms?.container;
  assert.ok(c);
  assert.equal(judge(c, m(around(150, 20)), { emulated: false }).status, 'within');
  assert.equal(judge(c, m(around(1500, 50)), { emulated: false }).status, 'worse');
  const s = judge(c, m([700, 900, 1000, 1100, 1300]), { emulated: false });
  assert.equal(s.status, 'not-comparable');
  assert.equal(s.reason, 'straddles');
  // A VM range claim: below its lower bound is better, not a failure.
  const vm = CLAIMS.startup_first_output_ms?.vm;
  assert.ok(vm);
  const fast = judge(vm, m(around(2000, 100)), { emulated: false });
  assert.equal(fast.status, 'better');
  assert.match(fast.text, /^better than it says/);
  assert.doesNotMatch(fast.text, /does not hold/);
});

test('too few independent samples: not comparable, whatever the figure; a size needs one', () => {
  const c = CLAIMS.startup_first_output_ms?.container;
  assert.ok(c);
  const two = judge(c, m([100, 110]), { emulated: false });
  assert.equal(MIN_SAMPLES, 3);
  assert.equal(two.status, 'not-comparable');
  assert.equal(two.reason, 'too-few-samples');
  assert.match(two.text, /2 independent samples/);
  const disk = CLAIMS.disk_instance_bytes?.container;
  if (disk) assert.notEqual(judge(disk, { median: 1e6, ci: [1e6, 1e6], unit: 'bytes', n: 1, deterministic: true }, { emulated: false }).reason, 'too-few-samples');
});

test('the n behind each verdict is printed with its interval', () => {
  const c = CLAIMS.startup_first_output_ms?.container;
  assert.ok(c);
  assert.match(judge(c, m(around(150, 20, 7)), { emulated: false }).text, /n=7/);
});

test('a TCG VM figure shows "better" when even emulated it beats a claimed cost, but never confirms a KVM claim', () => {
  const startup: MetricResult = { id: 'startup_first_output_ms', unit: 'ms', kinds: { vm: summarize(around(2000, 100)), container: summarize(around(150, 10)) } };
  const r = applyVerdicts(result([startup], true));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'better');
  assert.match(r.metrics[0]?.verdict?.vm ?? '', /even emulated \(TCG\)/);
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'within');

  // 60 s under TCG lies inside 30 s - 5 min, but KVM could be faster: not comparable (TCG).
  const slow: MetricResult = { id: 'startup_first_output_ms', unit: 'ms', kinds: { vm: summarize(around(60_000, 1000)) } };
  const r2 = applyVerdicts(result([slow], true));
  assert.equal(r2.metrics[0]?.verdictStatus?.vm, 'not-comparable');
  assert.equal(r2.metrics[0]?.verdictReason?.vm, 'tcg');
  // The same figure under KVM is within the range.
  assert.equal(applyVerdicts(result([slow], false)).metrics[0]?.verdictStatus?.vm, 'within');
});

test('CPU overhead is judged as a percentage of native; I/O as a ratio where higher is better', () => {
  const cpu: MetricResult = { id: 'cpu_overhead_ratio', unit: 'ratio', kinds: { vm: summarize(around(1.10, 0.01)), container: summarize(around(1.003, 0.001)) } };
  const io: MetricResult = { id: 'io_rand_ratio', unit: 'ratio', kinds: { vm: summarize(around(0.5, 0.02)), container: summarize(around(0.99, 0.005)) } };
  const r = applyVerdicts(result([cpu, io], false));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'within'); // 10 % in 5-15 %
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'within'); // 0.3 % < 1 %
  assert.equal(r.metrics[1]?.verdictStatus?.vm, 'worse'); // 50 % of native, below 80-95 %
  assert.equal(r.metrics[1]?.verdictStatus?.container, 'within');
  // Under TCG, a worse I/O ratio says nothing about KVM.
  assert.equal(applyVerdicts(result([io], true)).metrics[0]?.verdictReason?.vm, 'tcg');
});

test('network: VM "higher" is judged against the container, container "near-native" against native', () => {
  const net: MetricResult = { id: 'net_rtt_p50_us', unit: 'us', kinds: { native: summarize(around(20, 2)), container: summarize(around(24, 2)), vm: summarize(around(60, 4)) } };
  const r = applyVerdicts(result([net], false));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'within');
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'within');
  const far: MetricResult = { ...net, kinds: { native: summarize(around(20, 2)), container: summarize(around(80, 2)) } };
  assert.equal(applyVerdicts(result([far], false)).metrics[0]?.verdictStatus?.container, 'worse');
});

test('density: the verdict follows the measured marginal memory per instance, not a figure computed beside it', () => {
  // The extra claims 28 VMs and 150 containers fit (what overhead-only arithmetic gives), but the
  // measured marginal memory is 2 GiB per VM and 600 MiB per container: 21 VMs of 4 GiB + 2 GiB,
  // 117 containers of 512 MiB + 600 MiB: the verdict must come from those.
  const d: MetricResult = {
    id: 'density_marginal_bytes', unit: 'bytes',
    kinds: { vm: summarize(around(2 * GiB, 0.01 * GiB, 4)), container: summarize(around(600 * MiB, 4 * MiB, 4)) },
    extra: { vm: { sizedOnExampleServer: 28 }, container: { sizedOnExampleServer: 150 } },
  };
  assert.equal(sizedCount('vm', 2 * GiB), 21);
  assert.equal(sizedCount('container', 600 * MiB), 117);
  const r = applyVerdicts(result([d], false));
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'worse'); // 21 < 25 * 0.9
  assert.match(r.metrics[0]?.verdict?.vm ?? '', /21 instances/);
  assert.equal(r.metrics[0]?.verdictStatus?.container, 'within'); // 117 in 100-200
  // A tiny marginal memory: many more fit than the example's size allows for a VM? No: the size bounds it.
  const small: MetricResult = { ...d, kinds: { vm: summarize(around(50 * MiB, 1 * MiB, 4)) }, extra: {} };
  assert.equal(applyVerdicts(result([small], false)).metrics[0]?.verdictStatus?.vm, 'within'); // 31 within 25-30 +-10 %
});

test('a kind not measured is not comparable, with the driver\'s reason', () => {
  const missing: MetricResult = { id: 'memory_host_cost_bytes', unit: 'bytes', kinds: {}, notMeasured: { vm: 'QEMU is not installed' } };
  const r2 = applyVerdicts(result([missing], false));
  assert.equal(r2.metrics[0]?.verdictStatus?.vm, 'not-comparable');
  assert.equal(r2.metrics[0]?.verdictReason?.vm, 'not-measured');
  assert.match(r2.metrics[0]?.verdict?.vm ?? '', /QEMU is not installed/);
  const m2: MetricResult = { id: 'startup_first_output_ms', unit: 'ms', kinds: { container: summarize([100, 110, 105]) } };
  const res = result([m2], false);
  res.context.kinds = { ...res.context.kinds, vm: { measured: false, reason: 'KVM unusable and QEMU missing' } };
  assert.match(applyVerdicts(res).metrics[0]?.verdict?.vm ?? '', /^not comparable here \(not measured\): KVM unusable and QEMU missing/);
});

test('the full-OS VM is judged against the VM claims beside isola\'s microVM', () => {
  const startup: MetricResult = { id: 'startup_first_output_ms', unit: 'ms', kinds: { vm: summarize(around(2000, 100, 5)), 'vm-os': summarize(around(40_000, 2000, 5)) } };
  const res = result([startup], false);
  res.context.kinds = { ...res.context.kinds, 'vm-os': { measured: true } };
  const r = applyVerdicts(res);
  assert.equal(r.metrics[0]?.verdictStatus?.vm, 'better');
  assert.equal(r.metrics[0]?.verdictStatus?.['vm-os'], 'within');
  assert.equal(r.metrics[0]?.claim?.['vm-os'], '30 s - 5 min');
});

test('portability: isola\'s microVM ships the container\'s image, so its size and push are judged as that, not compared with themselves', () => {
  const pushes = summarize([28, 29, 35]);
  const shared: MetricResult = { id: 'portability_transfer_ms', unit: 'ms', kinds: { container: pushes, vm: pushes, 'vm-os': summarize([212, 213, 256]) }, sharedWith: { vm: 'container' } };
  const size: MetricResult = { id: 'portability_artifact_bytes', unit: 'bytes', deterministic: true, kinds: { container: summarize([MiB]), vm: summarize([MiB]), 'vm-os': summarize([144 * MiB]) }, sharedWith: { vm: 'container' } };
  const r = applyVerdicts(result([shared, size], true));
  for (const metric of r.metrics) {
    assert.equal(metric.verdictStatus?.vm, 'better', metric.id);
    assert.match(metric.verdict?.vm ?? '', /the same artefact as the container's/);
    assert.equal(metric.verdictStatus?.container, 'within', metric.id);
  }
  // Without the mark, the same figures compare the image with itself: neither larger nor slower.
  const unmarked = applyVerdicts(result([{ ...shared, sharedWith: undefined }, { ...size, sharedWith: undefined }], true));
  assert.notEqual(unmarked.metrics[0]?.verdictStatus?.vm, 'better');
});
