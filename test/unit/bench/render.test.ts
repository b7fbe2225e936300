import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable } from '../../../src/bench/render-table.js';
import { chartSvg, renderHtml } from '../../../src/bench/render-html.js';
import { applyVerdicts } from '../../../src/bench/verdict.js';
import { summarize } from '../../../src/bench/stats.js';
import { parseMeasured } from '../../../src/advise/measured.js';
import type { CompareResult } from '../../../src/core/compare-result.js';

function sample(emulated: boolean): CompareResult {
  return applyVerdicts({
    format: 'isola-compare', version: 2,
    context: {
      host: { cpu: 'AMD EPYC', cores: 2, memoryBytes: 24 * 1024 ** 3, kernel: 'Linux 6.1' }, accelerator: 'tcg', emulated,
      runtime: 'runc 1.1.5', qemu: '7.2', guestKernel: '6.1.0-cloud', image: 'base:latest', startedAt: '2025-01-01T00:00:00Z', quick: true,
      kinds: { native: { measured: true }, container: { measured: true }, vm: { measured: true }, hybrid: { measured: false, reason: 'not in this build' } },
      runs: 3, warmup: 1,
    },
    metrics: [
      { id: 'startup_first_output_ms', unit: 'ms', kinds: { container: summarize([90, 100, 110]), vm: summarize([1800, 1900, 2000]) } },
      { id: 'memory_overhead_bytes', unit: 'bytes', kinds: { container: summarize([630_000]), vm: summarize([1e8]) } },
      { id: 'net_rtt_p50_us', unit: 'us', kinds: { native: summarize([20, 21]), container: summarize([22, 23]) }, notMeasured: { vm: 'no <address> & "quotes"' } },
    ],
  });
}

test('the table has one row per metric, a column per measured kind, EMULATED on the VM column, footnotes for verdicts', () => {
  const t = renderTable(sample(true));
  assert.match(t, /vm \(tcg, EMULATED\)/);
  assert.match(t, /startup: first output\s+-\s+100 ms \(92\.0 ms-108 ms\)\s+1900 ms/);
  assert.match(t, /hybrid not measured: not in this build/);
  assert.match(t, /\[\d+\] startup: first output, vm: does not hold here: .*even emulated/);
  const header = t.split('\n').find((l) => l.startsWith('metric')) ?? '';
  assert.doesNotMatch(header, /hybrid/);
  assert.match(header, /claimed: VM\s+claimed: container\s+verdict VM\s+verdict container/);
  assert.match(t, /^claimed: the figures of the common VM-vs-container comparison/m);
  assert.match(t, /startup: first output .*30 s - 5 min\s+< 1 s/);
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
  assert.match(html, /<title>claimed for container: &lt; 1 s<\/title>/);
  assert.equal(chartSvg({ id: 'disk_image_bytes', unit: 'bytes', kinds: {} }, false), '');
});
