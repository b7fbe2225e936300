import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../helpers/fixture.js';
import { compareFixture } from './advise/fixtures.js';
import { extrapolate, EXAMPLE_SERVER, EXTRAPOLATION_NOTE } from '../../src/bench/scenarios/density.js';
import { renderHtml } from '../../src/bench/render-html.js';
import { renderTable } from '../../src/bench/render-table.js';
import { summarize } from '../../src/bench/stats.js';
import { applyVerdicts } from '../../src/bench/verdict.js';
import type { CompareResult } from '../../src/core/compare-result.js';

/**
 * House rule: users have never seen the document isola takes its claims from, so nothing isola
 * prints, writes or documents names it by the project's word for it ("seed"); output names the
 * claim itself or "the common comparison". Random-number seeds are another thing and allowed
 * where listed below.
 */
const WORD = /seed/i;

function noSourceWord(what: string, text: string): void {
  assert.ok(text.trim().length > 0, `${what} is empty`);
  const m = WORD.exec(text);
  assert.equal(m, null, m ? `${what} says "${text.slice(Math.max(0, m.index - 60), m.index + 60)}"` : '');
}

const EXAMPLE = path.join(REPO, 'examples', 'workloads.yaml');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-wording-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function isola(...args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'isola.js'), ...args], { cwd: REPO, encoding: 'utf8', input: '' });
  assert.equal(r.status, 0, `isola ${args.join(' ')}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

test('the help texts of isola, compare, advise and plan do not name the source document', () => {
  for (const args of [['--help'], ['compare', '--help'], ['advise', '--help'], ['plan', '--help']]) noSourceWord(`isola ${args.join(' ')}`, isola(...args));
  assert.match(isola('compare', '--help').replace(/\s+/g, ' '), /against the claims of the common VM-vs-container comparison/);
});

test('advise and plan of examples/workloads.yaml, as text and JSON, with and without --measured, do not name it', () => {
  const measured = path.join(dir, 'measured.json');
  fs.writeFileSync(measured, JSON.stringify(compareFixture()));
  for (const extra of [[], ['--measured', measured]]) {
    for (const json of [[], ['--json']]) {
      noSourceWord(`advise ${[...extra, ...json].join(' ')}`, isola('advise', EXAMPLE, ...extra, ...json));
      noSourceWord(`plan ${[...extra, ...json].join(' ')}`, isola('plan', EXAMPLE, ...extra, ...json));
    }
  }
  // Not vacuous: the outputs do name the source, in the house's words.
  assert.match(isola('advise', EXAMPLE), /\(the common comparison, Decision Framework \/ Choose VMs When: /);
  const plan = isola('plan', EXAMPLE, '--json');
  assert.match(plan, /"provenance": "comparison"/);
  assert.match(plan, /"comparisonExample"/);
});

/** A compare result with every claimed metric, as compare would write it (test data, not measurements). */
function fullResult(): CompareResult {
  const s = (...xs: number[]) => summarize(xs);
  return applyVerdicts({
    format: 'isola-compare', version: 3,
    context: {
      host: { cpu: 'Test CPU', cores: 4, memoryBytes: 16 * 1024 ** 3, kernel: 'Linux 6.1' }, accelerator: 'tcg', emulated: true,
      runtime: 'runc 1.1', qemu: '7.2', guestKernel: '6.1.0', image: 'base:latest', startedAt: '2025-01-01T00:00:00Z', quick: true,
      kinds: { native: { measured: true }, container: { measured: true }, vm: { measured: true }, hybrid: { measured: false, reason: 'not asked for' } },
      runs: 3, warmup: 1, bootstrapSeed: 1,
    },
    metrics: [
      { id: 'startup_first_output_ms', unit: 'ms', kinds: { container: s(90, 100, 110), vm: s(1800, 1900, 2000) } },
      { id: 'memory_overhead_bytes', unit: 'bytes', kinds: { container: s(6e5, 6.3e5, 6.6e5), vm: s(9e7, 1e8, 1.1e8) } },
      { id: 'memory_host_cost_bytes', unit: 'bytes', kinds: { container: s(1e6, 1.1e6, 1.2e6), vm: s(1.9e8, 2e8, 2.1e8) } },
      { id: 'disk_image_bytes', unit: 'bytes', kinds: { container: s(2e6), vm: s(2e6) } },
      { id: 'disk_rootdisk_bytes', unit: 'bytes', kinds: { vm: s(6e7) } },
      { id: 'disk_instance_bytes', unit: 'bytes', kinds: { container: s(1e4), vm: s(2e5) } },
      { id: 'cpu_overhead_ratio', unit: 'ratio', kinds: { container: s(1.0, 1.01, 1.02), vm: s(3, 3.1, 3.2) } },
      { id: 'net_rtt_p50_us', unit: 'us', kinds: { native: s(20, 21), container: s(25, 26), vm: s(300, 320) } },
      { id: 'io_seq_ratio', unit: 'ratio', kinds: { container: s(0.97, 0.99), vm: s(0.5, 0.6) } },
      { id: 'io_rand_ratio', unit: 'ratio', kinds: { container: s(0.96, 1.0) }, notMeasured: { vm: 'O_DIRECT refused' } },
      {
        id: 'density_marginal_bytes', unit: 'bytes', kinds: { container: s(5e5, 6e5), vm: s(2e8, 2.1e8) },
        notes: [EXTRAPOLATION_NOTE],
        extra: { exampleServer: EXAMPLE_SERVER, container: extrapolate('container', 5.5e5, 6.3e5, 16 * 1024 ** 3), vm: extrapolate('vm', 2.05e8, 1e8, 16 * 1024 ** 3) },
      },
    ],
  });
}

test('a compare result rendered as table, HTML and JSON does not name it', () => {
  const r = fullResult();
  const table = renderTable(r);
  const html = renderHtml(r);
  noSourceWord('the compare table', table);
  noSourceWord('the compare HTML', html);
  // bootstrapSeed is the random-number seed of the bootstrap, not the claims' source.
  const json = JSON.stringify(r, null, 2);
  assert.match(json, /"bootstrapSeed": 1/);
  noSourceWord('the compare JSON', json.replace(/"bootstrapSeed"/g, '"bootstrap"'));
  // Not vacuous: every claimed row is there with its claim.
  assert.match(table, /claimed: VM\s+claimed: container/);
  for (const claim of ['30 s - 5 min', '5-50 MB', '10-100 GB per VM', '5-15 %', 'near-native', '95-100 % of native', '100-200 containers of 512 MB on 128 GB']) assert.ok(table.includes(claim), claim);
  assert.match(html, /the common comparison&#39;s example server of 128 GiB/);
});

/** Phrases about random-number seeds (and the compare format's old field names, which v1 files hold). */
const ALLOWED: [file: string, phrase: RegExp][] = [
  ['docs/COMPARE-FORMAT.md', /`bootstrapSeed`|"bootstrapSeed"|random-number seed/g],
  ['docs/COMPARE-FORMAT.md', /`(seedServer|idleOnSeedServer|sizedOnSeedServer)` →/g],
  ['docs/COMPARE.md', /random-number seed `context\.bootstrapSeed`/g],
  ['docs/ARCHITECTURE.md', /seeded bootstrap CI/g],
  // Last, so the phrases above are matched whole first.
  ['*', /random-number seeds?|ISOLA_(FUZZ|FAULT)_SEED/g],
];

function allFiles(d: string): string[] {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? allFiles(path.join(d, e.name)) : [path.join(d, e.name)]));
}

function markdownFiles(d: string): string[] {
  return fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(d, e.name);
    return e.isDirectory() ? markdownFiles(p) : p.endsWith('.md') ? [p] : [];
  });
}

test('README.md, docs/ and examples/ do not name it, random-number seeds aside', () => {
  const files = [path.join(REPO, 'README.md'), ...markdownFiles(path.join(REPO, 'docs')), ...allFiles(path.join(REPO, 'examples'))];
  for (const f of files) {
    const rel = path.relative(REPO, f);
    let text = fs.readFileSync(f, 'utf8').replace(/\s+/g, ' ');
    for (const [file, phrase] of ALLOWED) if (file === rel || file === '*') text = text.replace(phrase, '');
    noSourceWord(rel, text);
  }
});
