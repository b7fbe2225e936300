import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../../helpers/fixture.js';
import { parseMeasured } from '../../../src/advise/measured.js';
import { renderHtml } from '../../../src/bench/render-html.js';

/**
 * The HTML report of a whole default run (every kind, the example application and the full-OS
 * VM), rendered from the JSON that run wrote (kept in test/fixtures: its figures were measured
 * on this project's test host by `npm run demo`), opened in Debian's Chromium: the full-OS VM and
 * the application rows are there with figures, the full-OS VM's cost is explained phase by phase,
 * every metric has its chart, and the page logs no error and asks for nothing on the network.
 * It starts no instance: the host-wide lock is not needed.
 */
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'compare-v3-default-run.json');

test('a default run\'s report in a real headless browser: full-OS VM and application rows, the VM cost explained, no console errors', { timeout: 120_000 }, async (t) => {
  if (!fs.existsSync('/usr/bin/chromium')) return t.skip('Debian\'s chromium is not installed at /usr/bin/chromium');
  const measured = parseMeasured(fs.readFileSync(FIXTURE, 'utf8'), FIXTURE);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-report-'));
  const html = path.join(dir, 'report.html');
  fs.writeFileSync(html, renderHtml(measured.result));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(`file://${html}`);

    // The table has a column for the full-OS VM, labelled as such, next to isola's own kinds.
    const header = await page.locator('table.metrics th[data-kind="vm-os"]').innerText();
    assert.match(header, /full OS/);
    for (const k of ['container', 'vm']) assert.equal(await page.locator(`table.metrics th[data-kind="${k}"]`).count(), 1, `a ${k} column`);
    const cellOf = (metric: string, kind: string) => page.locator(`table.metrics tr[data-metric="${metric}"] td[data-kind="${kind}"]`).innerText();
    // Full-OS rows: startup to the workload, memory, disk, density and portability carry figures with n.
    for (const id of ['startup_first_output_ms', 'memory_host_cost_bytes', 'density_marginal_bytes', 'portability_artifact_bytes']) {
      assert.match(await cellOf(id, 'vm-os'), /n=\d+/, `${id}: the full-OS VM has a figure`);
    }
    // Application rows: every kind that ran the application has its figures.
    for (const id of ['app_ready_ms', 'app_rps', 'app_latency_p99_ms', 'app_memory_bytes']) {
      for (const k of ['container', 'vm', 'vm-os']) assert.match(await cellOf(id, k), /n=\d+/, `${id}: ${k} has a figure`);
    }
    assert.match(await cellOf('app_rps', 'vm-os'), /req\/s/);
    // A verdict cell for the full-OS VM on the startup row, in one of the four words.
    const verdict = await page.locator('table.metrics tr[data-metric="startup_first_output_ms"] td.verdict').last().innerText();
    assert.match(verdict, /^(within the comparison's range|better than it says|worse than it says|not comparable here)/);
    // What makes up the difference, phase by phase.
    const cost = await page.locator('#vm-cost').innerText();
    for (const phase of [/firmware \(SeaBIOS\)/, /bootloader \(syslinux\)/, /kernel/, /systemd/, /udev, D-Bus/]) assert.match(cost, phase);
    assert.doesNotMatch(cost, /NaN|\?/, 'every figure of the explanation is there');
    // Charts: one per metric, the full-OS VM among the app chart's rows, startup on a log scale.
    const charts = await page.locator('svg.chart').count();
    assert.equal(charts, measured.result.metrics.length);
    assert.match(await page.locator('svg.chart[data-metric="app_rps"]').innerHTML(), /full OS/);
    assert.equal(await page.locator('svg.chart[data-metric="startup_first_output_ms"]').getAttribute('data-scale'), 'log');
    const box = await page.locator('svg.chart[data-metric="app_ready_ms"]').boundingBox();
    assert.ok(box && box.width > 100 && box.height > 20, 'the app chart has a visible size');
    assert.ok(await page.locator('ul.summary li[data-section="app"]').count() === 1, 'the summary has the application section');
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [], 'the report needs no network');
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
