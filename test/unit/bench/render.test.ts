import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable } from '../../../src/bench/render-table.js';
import { chartSvg, renderHtml } from '../../../src/bench/render-html.js';
import { applyVerdicts } from '../../../src/bench/verdict.js';
import { summarizeResult, whereStartupGoes } from '../../../src/bench/summary.js';
import { summarize } from '../../../src/bench/stats.js';
import { parseMeasured } from '../../../src/advise/measured.js';
import type { CompareResult } from '../../../src/core/compare-result.js';

function sample(emulated: boolean): CompareResult {
  const r = applyVerdicts({
    format: 'isola-compare', version: 3,
    context: {
      host: { cpu: 'AMD EPYC', cores: 2, memoryBytes: 24 * 1024 ** 3, kernel: 'Linux 6.1' }, accelerator: 'tcg', emulated,
      runtime: 'runc 1.1.5', qemu: '7.2', guestKernel: '6.1.0-cloud', image: 'base:latest', startedAt: '2025-01-01T00:00:00Z', quick: true,
      kinds: { native: { measured: true }, container: { measured: true }, vm: { measured: true }, hybrid: { measured: false, reason: 'not in this build' } },
      runs: 3, warmup: 1,
    },
    metrics: [
      { id: 'startup_first_output_ms', unit: 'ms', sample: 'one launch of a new instance', kinds: { container: summarize([90, 100, 110]), vm: summarize([1800, 1900, 2000]) } },
      { id: 'memory_host_cost_bytes', unit: 'bytes', kinds: { container: summarize([630_000, 640_000, 650_000]), vm: summarize([1e8, 1.1e8, 1.2e8]) } },
      { id: 'net_rtt_p50_us', unit: 'us', kinds: { native: summarize([20, 21]), container: summarize([22, 23]) }, notMeasured: { vm: 'no <address> & "quotes"' } },
    ],
  });
  r.summary = summarizeResult(r);
  return r;
}

test('the table: a column per measured kind with n, EMULATED on the VM column, the four verdict words, a summary on top', () => {
  const t = renderTable(sample(true));
  assert.match(t, /vm: microVM \(tcg, EMULATED\)/);
  assert.match(t, /startup: first output\s+-\s+100 ms \(92\.0 ms-108 ms\) n=3\s+1900 ms \(1820 ms-1980 ms\) n=3/);
  assert.match(t, /hybrid not measured: not in this build/);
  assert.match(t, /\[\d+\] startup: first output, vm: microVM: better than it says: .*n=3\); even emulated/);
  const header = t.split('\n').find((l) => l.startsWith('metric')) ?? '';
  assert.doesNotMatch(header, /hybrid/);
  assert.match(header, /claimed: VM\s+claimed: container\s+verdict: container\s+verdict: vm: microVM/);
  assert.match(t, /^claimed: the figures of the common VM-vs-container comparison/m);
  assert.match(t, /startup: first output .*30 s - 5 min\s+< 1 s\s+within \[\d+\]\s+better \[\d+\]/);
  assert.match(t, /n\/c: too few runs/);
  assert.match(t, /What this host showed:\n {2}Startup to the first output: a container 100 ms \(n=3\): within the comparison's range/);
  assert.doesNotMatch(t, /does not hold|holds/);
});

const ESC = String.fromCharCode(27);

test('colours follow the meaning for the kind judged: a VM better than claimed is green, never red', () => {
  const t = renderTable(sample(true), { color: true });
  const row = t.split('\n').find((l) => l.startsWith('startup: first output')) ?? '';
  assert.ok(row.includes(`${ESC}[32mbetter${ESC}[0m`), row);
  assert.ok(!row.includes(`${ESC}[31m`), 'red is for worse only');
  assert.match(renderTable(sample(true)), /better/);
  assert.ok(!renderTable(sample(true)).includes(ESC), 'no colour codes unless asked (not a terminal)');
  const html = renderHtml(sample(true));
  assert.match(html, /<td class="verdict better"[^>]*>better than it says<\/td>/);
  assert.match(html, /\.verdict\.better\{color:#17692a\}/);
});

test('the JSON is the compare format that advise --measured reads', () => {
  const r = sample(false);
  const parsed = parseMeasured(JSON.stringify(r), 'x.json');
  assert.equal(parsed.result.metrics.length, 3);
  assert.equal(parsed.result.metrics[0]?.kinds.vm?.samples.length, 3);
});

test('the HTML is self-contained: an SVG chart per metric with data, escaped text, no script or remote URL', () => {
  const html = renderHtml(sample(true));
  assert.equal((html.match(/<svg class="chart"/g) ?? []).length, 3);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  assert.match(html, /no &lt;address&gt; &amp; &quot;quotes&quot;/);
  assert.match(html, /TCG \(emulated\)/);
  assert.match(html, /<th>claimed: VM<\/th><th>claimed: container<\/th>/);
  assert.match(html, /<b>container<\/b> \(claimed: &lt; 1 s\)/);
  assert.match(html, /<title>claimed for containers: &lt; 1 s<\/title>/);
  assert.match(html, /one sample = /);
  assert.equal(chartSvg({ id: 'disk_image_bytes', unit: 'bytes', kinds: {} }, { emulated: false, accelerator: 'kvm' }), '');
});

test('charts: startup on a log scale; every chart names its unit, the accelerator for VM rows, and n per kind', () => {
  const r = sample(true);
  const startup = r.metrics.find((m) => m.id === 'startup_first_output_ms');
  assert.ok(startup);
  const svg = chartSvg(startup, r.context);
  assert.match(svg, /data-scale="log"/);
  assert.match(svg, /in milliseconds \(log scale\); VM rows: TCG \(emulated, not KVM\)/);
  assert.match(svg, />container n=3</);
  assert.match(svg, />vm: microVM \(TCG\) n=3</);
});

test('where the full-OS VM\'s startup goes is computed from its milestones, not asserted', () => {
  assert.match(whereStartupGoes(40_000, 5_000, 2_000), /^88 % of the full OS's start \(35\.0 s\) passes after its firmware handed over.*in 2000 ms in all.*more of the difference is the OS inside than the virtualization/);
  assert.match(whereStartupGoes(3_000, 2_000, 2_500), /the OS inside is not what makes the difference here/);
  assert.match(whereStartupGoes(3_000, undefined, 2_500), /cannot be split here/);
});
