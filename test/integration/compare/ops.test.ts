import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { parseMeasured } from '../../../src/advise/measured.js';
import type { CompareResult } from '../../../src/core/compare-result.js';

/**
 * `isola compare --ops` end to end through the real CLI: the operations table per kind. Small
 * run counts (the VM kinds with 2 replicas and 2 runs: under TCG each VM start takes seconds);
 * tests never assert timings, only that every row was measured and judged and nothing is left.
 */
let fx: Fixture | undefined;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-ops-out-'));

after(async () => {
  if (fx) {
    const r = await isola(fx.root, ['ps', '-a', '--json']).catch(() => undefined);
    const left = (JSON.parse(r?.stdout || '[]') as { id: string }[]).map((x) => x.id);
    if (left.length) await isola(fx.root, ['rm', '-f', ...left]);
    await fx.dispose();
  }
  fs.rmSync(out, { recursive: true, force: true });
});

const OPS = ['ops_scale_ms', 'ops_update_ms', 'ops_rollback_ms', 'ops_snapshot_ms', 'ops_restore_ms'] as const;

async function ops(kinds: string, extra: string[], timeoutMs: number): Promise<{ stdout: string; result: CompareResult }> {
  fx ??= await makeFixture();
  const json = path.join(out, `${kinds}.json`);
  const r = await isola(fx.root, ['compare', '--ops', '--kinds', kinds, ...extra, '--json', json], { timeoutMs });
  assert.equal(r.code, 0, r.stderr);
  const measured = parseMeasured(fs.readFileSync(json, 'utf8'), json);
  const ps = await isola(fx.root, ['ps', '-a', '--json']);
  assert.deepEqual(JSON.parse(ps.stdout || '[]'), [], 'every replica and snapshot instance removed');
  assert.deepEqual(hostLeftovers(fx), []);
  return { stdout: r.stdout, result: measured.result };
}

test('compare --ops --kinds container: scale, update, rollback, snapshot and restore rows, judged against the comparison', { timeout: 300_000 }, async () => {
  const { stdout, result } = await ops('container', ['--runs', '3', '--replicas', '3'], 280_000);
  for (const id of OPS) {
    const m = result.metrics.find((x) => x.id === id);
    assert.ok(m?.kinds.container, `${id} measured for the container`);
    assert.equal(m.kinds.container.n, 3);
  }
  const scale = result.metrics.find((m) => m.id === 'ops_scale_ms');
  assert.equal(scale?.claim?.container, 'Seconds');
  assert.ok(scale?.verdictStatus?.container, 'the scale row is judged');
  assert.equal(result.metrics.find((m) => m.id === 'ops_update_ms')?.claim?.container, 'Replace with new image');
  assert.equal(result.metrics.find((m) => m.id === 'ops_rollback_ms')?.claim?.container, 'Pull previous image version');
  assert.deepEqual(result.context.ops?.perKind.container, { replicas: 3, runs: 3 });
  assert.match(stdout, /operations: scale out 1 -> N replicas/);
  assert.match(stdout, /container 3 replicas x 3 runs/);
});

test('compare --ops --kinds vm,hybrid (2 replicas, 2 runs): every row measured, the VM columns say TCG when emulated', { timeout: 600_000 }, async () => {
  const { stdout, result } = await ops('vm,hybrid', ['--runs', '2', '--replicas', '2'], 580_000);
  for (const kind of ['vm', 'hybrid'] as const) {
    if (!result.context.kinds?.[kind]?.measured) {
      assert.fail(`${kind} was not measured: ${result.context.kinds?.[kind]?.reason ?? ''}`);
    }
    for (const id of OPS) assert.equal(result.metrics.find((m) => m.id === id)?.kinds[kind]?.n, 2, `${id} for ${kind}`);
  }
  const scale = result.metrics.find((m) => m.id === 'ops_scale_ms');
  assert.equal(scale?.claim?.vm, 'Minutes');
  if (result.context.accelerator === 'tcg') {
    assert.match(stdout, /vm: microVM \(tcg, EMULATED\)/);
    assert.match(stdout, /EMULATED: TCG/);
  }
  // Two runs are too few for a verdict: said so, not a verdict.
  assert.equal(scale?.verdictReason?.vm, 'too-few-samples');
});

test('compare --ops refuses --quick and --replicas without --ops in one line, exit 125', async () => {
  fx ??= await makeFixture();
  const a = await isola(fx.root, ['compare', '--ops', '--quick']);
  assert.equal(a.code, 125);
  assert.match(a.stderr, /--ops cannot be combined with --quick/);
  const b = await isola(fx.root, ['compare', '--replicas', '3']);
  assert.equal(b.code, 125);
  assert.match(b.stderr, /--replicas needs --ops/);
  const c = await isola(fx.root, ['compare', '--ops', '--replicas', '1']);
  assert.equal(c.code, 125);
  assert.match(c.stderr, /invalid --replicas "1"/);
});
