import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareQuickTwice, keepRuns, quickBudgetRow, QUICK_BUDGET_MS } from '../../../src/bench/stability.js';
import { explainVmCost } from '../../../src/bench/summary.js';
import type { CompareResult } from '../../../src/core/compare-result.js';

/**
 * `npm run bench`'s stability check and the --quick budget, on figures given to it (no timing
 * here: the wall times are inputs), and the full-OS VM's cost text from a real default run.
 */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const run = (): CompareResult => JSON.parse(fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'compare-v3-default-run.json'), 'utf8')) as CompareResult;

test('the --quick budget row: the slower of the two wall times against 90 s', () => {
  assert.equal(QUICK_BUDGET_MS, 90_000);
  const ok = quickBudgetRow([61_700, 74_200]);
  assert.equal(ok.value, 74.2);
  assert.equal(ok.ok, true);
  assert.equal(ok.target, '< 90 s');
  assert.match(ok.ratio ?? '', /61\.7 s, 74\.2 s/);
  assert.equal(quickBudgetRow([61_700, 90_000]).ok, false, 'the budget is a strict bound');
  assert.equal(quickBudgetRow([]).ok, null);
});

test('compareQuickTwice runs compare --quick twice, reports the medians that moved and the budget; a failed run is a failed row', async () => {
  const a = run();
  const b = structuredClone(a);
  const first = b.metrics.find((m) => m.id === 'startup_first_output_ms');
  if (first?.kinds.container) first.kinds.container.median *= 1.5; // moved 50 %
  const calls: string[][] = [];
  const results = [a, b];
  const walls = [70_000, 80_000];
  const s = await compareQuickTwice(async (args) => {
    calls.push(args);
    return { code: 0, stderr: '', ms: walls[calls.length - 1] as number };
  }, '/nowhere', () => undefined, () => results[calls.length - 1] as CompareResult);
  assert.deepEqual(calls.map((c) => c.slice(0, 2)), [['compare', '--quick'], ['compare', '--quick']]);
  const direct = s.rows.find((r) => r.name.includes('container and native rows'));
  assert.equal(direct?.ok, false);
  assert.match(direct?.note ?? '', /startup: first output container 50\.0 %/);
  const budget = s.rows.find((r) => r.name.startsWith('compare --quick: wall time'));
  assert.equal(budget?.value, 80);
  assert.equal(budget?.ok, true);
  const raw2 = s.raw.compareQuick2 as { durationMs: number; wallMs: number; loadAverageAtStart: number };
  assert.deepEqual({ durationMs: raw2.durationMs, wallMs: raw2.wallMs }, { durationMs: b.context.durationMs, wallMs: 80_000 });
  // The host's load at the start of each run: other work moves the medians, a reader sees how much there was.
  assert.ok(Number.isFinite(raw2.loadAverageAtStart) && raw2.loadAverageAtStart >= 0);
  assert.match(direct?.note ?? '', /^\d+ rows \(1-minute load average at the start of each run: \d+\.\d\d, \d+\.\d\d\);/);

  const failed = await compareQuickTwice(async () => ({ code: 125, stderr: 'isola: boom\n', ms: 1000 }), '/nowhere', () => undefined, () => a);
  assert.equal(failed.rows[0]?.ok, false);
  assert.match(failed.rows[0]?.note ?? '', /run 1 exited with 125: isola: boom/);
});

test('the full-OS VM\'s cost, phase by phase, from a real default run; without the microVM it says so (no ? or NaN)', () => {
  const r = run();
  const withVm = explainVmCost(r);
  assert.ok(withVm);
  const text = withVm.text.join('\n');
  for (const phase of [/firmware \(SeaBIOS\)/, /bootloader \(syslinux\)/, /until systemd started/, /udev, D-Bus, journald/, /isola's microVM after \d/]) assert.match(text, phase);
  assert.doesNotMatch(text, /NaN|\?/);
  // The same run without the microVM's figures.
  for (const m of r.metrics) delete m.kinds.vm;
  const without = explainVmCost(r);
  const t2 = (without?.text ?? []).join('\n');
  assert.match(t2, /isola's microVM was not measured in this run \(add vm to --kinds/);
  assert.doesNotMatch(t2, /NaN|\?/);
});

test('keepRuns copies both compare --quick JSON files next to the bench\'s JSON; a missing run is skipped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-keep-'));
  try {
    fs.writeFileSync(path.join(dir, 'compare-quick-1.json'), '{"run":1}');
    const kept = keepRuns(dir, path.join(dir, 'out', 'results.json'));
    assert.deepEqual(kept, [path.join(dir, 'out', 'results.compare-quick-1.json')]);
    assert.equal(fs.readFileSync(kept[0] as string, 'utf8'), '{"run":1}');
    fs.writeFileSync(path.join(dir, 'compare-quick-2.json'), '{"run":2}');
    assert.equal(keepRuns(dir, path.join(dir, 'b.json')).length, 2);
    assert.equal(fs.readFileSync(path.join(dir, 'b.compare-quick-2.json'), 'utf8'), '{"run":2}');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
