import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { isMonitorPidfile } from '../../../src/bench/scenarios/startup.js';
import { memory } from '../../../src/bench/scenarios/memory.js';
import { checkedMs } from '../../../src/bench/bench-rows.js';
import { medianMoves, stabilityRows } from '../../../src/bench/stability.js';
import { Progress } from '../../../src/bench/progress.js';
import { summarize } from '../../../src/bench/stats.js';
import { ownOsRecords } from '../../../src/drivers/vm/driver.js';
import type { ScenarioContext } from '../../../src/bench/scenario.js';
import type { InstanceRecord } from '../../../src/state/instances.js';
import type { InstanceSpec } from '../../../src/core/types.js';
import { COMPARE_VERSION, type CompareResult, type MetricResult } from '../../../src/core/compare-result.js';

/** The defects of the first edition's verdicts, each pinned by a test that the old code fails. */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

test('"monitor ready" is conmon\'s or QEMU\'s pidfile, never the workload\'s pid file runc create writes', () => {
  assert.equal(isMonitorPidfile('conmon.pid'), true);
  assert.equal(isMonitorPidfile('qemu.pid'), true);
  // The old pattern /(^|\.)pid$/ matched these: runc's pid file would time `runc create` too.
  assert.equal(isMonitorPidfile('pid'), false);
  assert.equal(isMonitorPidfile('init.pid'), false);
});

test('the memory interval rests on separate instances, one reading each, and n counts instances', async () => {
  const reads: string[] = [];
  const overhead: Record<string, number> = { a: 1_000_000, b: 1_200_000, c: 1_100_000 };
  const rec = (id: string) => ({ id, kind: 'container' }) as unknown as InstanceRecord;
  const ctx = {
    lab: { engine: { stats: async (id: string) => { reads.push(id); return { stats: { hostOverheadBytes: overhead[id], memoryBytes: 0 } }; } }, signal: new AbortController().signal },
    kinds: ['container'], runs: 10, warmup: 1, quick: true,
    progress: new Progress(new Writable({ write: (_c, _e, cb) => cb() }), true),
    probes: new Map([['container', [rec('a'), rec('b'), rec('c')]]]),
    helper: null, densityBudget: 1, facts: new Map(),
  } as unknown as ScenarioContext;
  const [, over] = await memory(ctx);
  assert.equal(over?.id, 'memory_overhead_bytes');
  // The old code read one instance `runs` (here 10) times: n=10 from a single instance.
  assert.deepEqual(reads, ['a', 'b', 'c']);
  assert.equal(over?.kinds.container?.n, 3);
  assert.deepEqual([...(over?.kinds.container?.samples ?? [])].sort(), [1_000_000, 1_100_000, 1_200_000]);
  assert.match(over?.sample ?? '', /one idle instance/);
});

test('a benchmark arm that exits non-zero is an error, never a sample (the podman arm of npm run bench)', () => {
  assert.equal(checkedMs('podman run --rm', { code: 0, stderr: '', ms: 123 }), 123);
  assert.throws(() => checkedMs('podman run --rm', { code: 125, stderr: 'Error: crun: cannot\nlast line', ms: 12 }), /podman run --rm exited with 125: last line/);
  // The peer arms live in the container start scenario: each one's time goes through checkedMs.
  const arms = fs.readFileSync(path.join(REPO, 'src', 'bench', 'scenarios', 'container-start.ts'), 'utf8');
  assert.match(arms, /run: async \(\) => checkedMs\(`podman run --rm/);
  assert.match(arms, /run: async \(\) => checkedMs\('docker run --rm/);
  assert.equal((arms.match(/run: async \(\) => checkedMs\(/g) ?? []).length, (arms.match(/run: async \(\) =>/g) ?? []).length);
});

test('no figure of one host is typed into the report text: every "here" figure is measured', () => {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(path.join(REPO, 'src', 'bench'));
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    // e.g. "the JIT translation cache (about 48 MiB here)": a number in a string literal that claims to be this host's.
    assert.doesNotMatch(text, /about \d+(\.\d+)? ?(KiB|MiB|GiB|MB|GB|ms|s|%) here/, path.relative(REPO, f));
  }
});

test('a disk with its own OS is told its address, gateway and hostname by fw_cfg, and nothing else', () => {
  const spec = { hostname: 'h1', network: { mode: 'bridge', ip: '10.88.0.5', prefixLength: 16, gateway: '10.88.0.1' } } as unknown as InstanceSpec;
  assert.deepEqual(ownOsRecords(spec), { argv: [], env: [], hostname: 'h1', ip: '10.88.0.5/16', gateway: '10.88.0.1' });
  assert.deepEqual(ownOsRecords({ hostname: 'h2', network: { mode: 'none' } } as unknown as InstanceSpec), { argv: [], env: [], hostname: 'h2' });
});

function run(container: number[], vm: number[]): CompareResult {
  const m = (id: MetricResult['id']): MetricResult => ({ id, unit: 'ms', kinds: { container: summarize(container), vm: summarize(vm) } });
  return {
    format: 'isola-compare', version: COMPARE_VERSION,
    context: { host: { cpu: 't', cores: 2, memoryBytes: 1, kernel: 'L' }, accelerator: 'tcg', emulated: true, runtime: 'runc', image: 'base', startedAt: '', quick: true },
    metrics: [m('startup_first_output_ms')],
  };
}

test('stability: how far each median moved between two compare --quick runs, container rows against 10 %, TCG rows against 15 %', () => {
  const a = run([100, 100, 100], [1900, 2000, 2100]);
  const b = run([108, 108, 108], [2300, 2400, 2500]);
  const moves = medianMoves(a, b);
  assert.deepEqual(moves.map((x) => [x.kind, Number(x.moved.toFixed(2)), x.emulated]), [['container', 0.08, false], ['vm', 0.2, true]]);
  const [direct, emulated] = stabilityRows(a, b);
  assert.equal(direct?.ok, true);
  assert.equal(direct?.value, 8);
  assert.equal(emulated?.ok, false);
  assert.match(emulated?.note ?? '', /past the target: startup: first output vm 20\.0 % \(2000 -> 2400; p10-p90 1920-2080 n=3, 2320-2480 n=3\)/);
  assert.deepEqual(moves[1]?.spread, [{ p10: 1920, p90: 2080, n: 3 }, { p10: 2320, p90: 2480, n: 3 }]);
  assert.match(emulated?.ratio ?? '', /max 20\.0 %/);
});
