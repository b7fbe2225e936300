import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { opsMetrics, opsPlan, opsSummary } from '../../../src/bench/ops-compare.js';
import { IDLE_ARGV, opsComposeText, type OpsTimes } from '../../../src/bench/scenarios/ops.js';
import type { SnapshotOpTimes } from '../../../src/bench/snapshot-ops.js';
import { summarize } from '../../../src/bench/stats.js';
import { applyVerdicts } from '../../../src/bench/verdict.js';
import { renderTable } from '../../../src/bench/render-table.js';
import { loadStack } from '../../../src/compose/stack.js';
import { COMPARE_VERSION, type CompareResult, type MetricResult } from '../../../src/core/compare-result.js';
import type { Kind } from '../../../src/core/types.js';

function result(metrics: MetricResult[], emulated: boolean): CompareResult {
  return {
    format: 'isola-compare', version: COMPARE_VERSION,
    context: {
      host: { cpu: 'test', cores: 2, memoryBytes: 1, kernel: 'Linux' }, accelerator: emulated ? 'tcg' : 'kvm', emulated,
      runtime: 'runc', image: 'base', startedAt: '2025-01-01T00:00:00Z', quick: false,
      kinds: { native: { measured: true }, container: { measured: true }, vm: { measured: true }, hybrid: { measured: true } },
      ops: { image: 'base', perKind: { container: { replicas: 5, runs: 3 }, vm: { replicas: 5, runs: 3 } }, ready: 'running' },
    },
    metrics,
  };
}

const times = (scale: number[], update = scale, rollback = scale): OpsTimes => ({ scaleMs: scale, updateMs: update, rollbackMs: rollback });
const snap = (kind: Kind, xs: number[]): SnapshotOpTimes => ({ kind, snapshotMs: xs, restoreMs: xs, snapshot: summarize(xs), restore: summarize(xs) });

test('opsMetrics: one row per operation, a summary per kind measured, the reason per kind that failed', () => {
  const rows = opsMetrics(
    new Map<Kind, OpsTimes | string>([['container', times([900, 1000, 1100])], ['vm', 'failed: no room']]),
    new Map<Kind, SnapshotOpTimes | string>([['container', snap('container', [50, 60, 70])], ['vm', snap('vm', [300, 310, 320])]]),
  );
  assert.deepEqual(rows.map((r) => r.id), ['ops_scale_ms', 'ops_update_ms', 'ops_rollback_ms', 'ops_snapshot_ms', 'ops_restore_ms']);
  const scale = rows[0];
  assert.equal(scale?.kinds.container?.n, 3);
  assert.equal(scale?.kinds.container?.median, 1000);
  assert.equal(scale?.kinds.vm, undefined);
  assert.equal(scale?.notMeasured?.vm, 'failed: no room');
  assert.equal(rows[3]?.kinds.vm?.median, 310);
  assert.equal(rows[3]?.notMeasured, undefined);
});

test('the scale row is judged against "Seconds" and "Minutes"; an emulated VM can only show it does better', () => {
  const fast = applyVerdicts(result(opsMetrics(new Map([['container', times([2000, 2100, 2200, 2300])], ['vm', times([20_000, 21_000, 22_000, 23_000])]]), new Map()), true));
  const scale = fast.metrics.find((m) => m.id === 'ops_scale_ms');
  assert.equal(scale?.claim?.container, 'Seconds');
  assert.equal(scale?.claim?.vm, 'Minutes');
  assert.equal(scale?.verdictStatus?.container, 'within');
  assert.equal(scale?.verdictStatus?.vm, 'better', 'under a minute even emulated: KVM does at least as well');
  assert.match(scale?.verdict?.vm ?? '', /TCG/);
  // Minutes, emulated: TCG cannot confirm a KVM claim.
  const slow = applyVerdicts(result(opsMetrics(new Map([['container', times([70_000, 71_000, 72_000, 73_000])], ['vm', times([120_000, 125_000, 130_000, 135_000])]]), new Map()), true));
  const s2 = slow.metrics.find((m) => m.id === 'ops_scale_ms');
  assert.equal(s2?.verdictStatus?.container, 'worse', 'over a minute is not "seconds"');
  assert.equal(s2?.verdictStatus?.vm, 'not-comparable');
  assert.equal(s2?.verdictReason?.vm, 'tcg');
  // With KVM, minutes are within the claim.
  const kvm = applyVerdicts(result(opsMetrics(new Map([['vm', times([120_000, 125_000, 130_000, 135_000])]]), new Map()), false));
  assert.equal(kvm.metrics.find((m) => m.id === 'ops_scale_ms')?.verdictStatus?.vm, 'within');
  // Two runs: too few for a verdict, said so.
  const two = applyVerdicts(result(opsMetrics(new Map([['container', times([1000, 1100])]]), new Map()), false));
  assert.equal(two.metrics.find((m) => m.id === 'ops_scale_ms')?.verdictReason?.container, 'too-few-samples');
});

test('update, rollback and snapshot rows carry the comparison\'s words and no verdict', () => {
  const r = applyVerdicts(result(opsMetrics(new Map([['container', times([1, 2, 3])], ['vm', times([4, 5, 6])]]), new Map([['container', snap('container', [1, 2, 3])], ['vm', snap('vm', [4, 5, 6])]])), true));
  const by = (id: string) => r.metrics.find((m) => m.id === id);
  assert.deepEqual(by('ops_update_ms')?.claim, { container: 'Replace with new image', vm: 'In-place updates' });
  assert.deepEqual(by('ops_rollback_ms')?.claim, { container: 'Pull previous image version', vm: 'From snapshots' });
  assert.deepEqual(by('ops_snapshot_ms')?.claim, { vm: 'From snapshots (rollback)' });
  for (const id of ['ops_update_ms', 'ops_rollback_ms', 'ops_snapshot_ms', 'ops_restore_ms']) assert.equal(by(id)?.verdictStatus, undefined, id);
  const text = renderTable(r);
  assert.match(text, /operations: rolling update of N replicas .*In-place updates +Replace with new image/);
  assert.match(text, /operations: a compose service of base, ready when running; container 5 replicas x 3 runs, vm 5 replicas x 3 runs/);
  assert.match(text, /vm: microVM \(tcg, EMULATED\)/);
  assert.equal(opsSummary(r), 'Operations (medians; replicas: container 5, vm 5): scale out: container 2.0 ms, vm 5.0 ms (TCG); rolling update: container 2.0 ms, vm 5.0 ms (TCG); rollback: container 2.0 ms, vm 5.0 ms (TCG); snapshot: container 2.0 ms, vm 5.0 ms (TCG); restore: container 2.0 ms, vm 5.0 ms (TCG).');
});

test('opsPlan: 5 replicas and 3 runs for every kind; --runs and --replicas win', () => {
  assert.deepEqual(opsPlan('container', {}), { replicas: 5, runs: 3 });
  assert.deepEqual(opsPlan('vm', {}), { replicas: 5, runs: 3 });
  assert.deepEqual(opsPlan('vm', { runs: 4, replicas: 2 }), { replicas: 2, runs: 4 });
});

test('the measured stack is a valid compose file of the kind asked for, and its revision changes its config', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-ops-unit-'));
  try {
    const file = path.join(dir, 'compose.yaml');
    const load = (kind: Kind, rev: number) => {
      fs.writeFileSync(file, opsComposeText('base', kind, rev));
      return loadStack({ file, project: 'p', profiles: [], cwd: dir, env: {} });
    };
    for (const kind of ['container', 'vm', 'hybrid'] as const) {
      const s = load(kind, 1).services[0];
      assert.equal(s?.kind, kind);
      assert.deepEqual(s?.command, [...IDLE_ARGV]);
    }
    assert.notDeepEqual(load('vm', 1).services[0]?.environment, load('vm', 2).services[0]?.environment);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
