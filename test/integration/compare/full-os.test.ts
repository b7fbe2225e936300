import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { parseMeasured } from '../../../src/advise/measured.js';

/**
 * The full-OS VM arm of `isola compare` end to end, in its narrowest run: containers and the
 * whole-disk Debian VM with systemd (the Debian system is built once with debootstrap into
 * $ISOLA_ASSETS/os and reused; the workload's disk is made in this data root), two boots of the
 * probe image's idle `sleep` as a systemd service. The full-OS column is in the table, the JSON
 * and the HTML, with the explanation of where its cost comes from; nothing is left running.
 * Times are never asserted.
 */
let fx: Fixture | undefined;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-compare-os-'));

after(async () => {
  if (fx) {
    const r = await isola(fx.root, ['ps', '-a', '-q']);
    const left = r.stdout.split('\n').filter(Boolean);
    if (left.length) await isola(fx.root, ['rm', '-f', ...left]);
    await fx.dispose();
  }
  fs.rmSync(out, { recursive: true, force: true });
});

test('compare --quick --kinds container,vm-os: the full-OS VM boots, and its row and cost explanation are in the table, JSON and HTML', { timeout: 900_000 }, async () => {
  fx = await makeFixture();
  const json = path.join(out, 'os.json');
  const html = path.join(out, 'os.html');
  const r = await isola(fx.root, ['compare', '--quick', '--kinds', 'container,vm-os', '--runs', '2', '--json', json, '--html', html, '--density-budget', '256m'], { timeoutMs: 880_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /full-OS VM failed/);
  // The table: a full-OS column, its startup figure, the explanation phase by phase.
  assert.match(r.stdout, /vm: full OS \((tcg, EMULATED|kvm)\)/);
  assert.match(r.stdout, /^startup: first output .* n=2 .*\d+(\.\d+)? m?s \([^)]*\) n=2/m);
  assert.match(r.stdout, /Where the full-OS VM's cost comes from/);
  assert.match(r.stdout, /firmware \(SeaBIOS\).*bootloader \(syslinux\).*until systemd started.*until the workload's service/s);
  assert.match(r.stdout, /isola's microVM was not measured in this run/);
  assert.doesNotMatch(r.stdout, /NaN/);
  // The JSON: version 3, vm-os measured with two boots and its milestones.
  const measured = parseMeasured(fs.readFileSync(json, 'utf8'), json);
  const res = measured.result;
  assert.equal(res.version, 3);
  assert.equal(res.context.kinds?.['vm-os']?.measured, true, JSON.stringify(res.context.kinds?.['vm-os']));
  assert.equal(res.context.fullOs?.runs, 2);
  const byId = new Map(res.metrics.map((m) => [m.id, m]));
  const first = byId.get('startup_first_output_ms');
  assert.equal(first?.kinds['vm-os']?.n, 2);
  const milestones = (first?.extra?.['vm-os'] ?? {}) as { firmwareMs?: number; kernelMs?: number; initMs?: number };
  assert.ok(milestones.firmwareMs !== undefined && milestones.kernelMs !== undefined && milestones.initMs !== undefined, JSON.stringify(milestones));
  assert.ok(milestones.firmwareMs < milestones.kernelMs && milestones.kernelMs < milestones.initMs, 'firmware, then kernel, then systemd');
  for (const id of ['memory_host_cost_bytes', 'density_marginal_bytes', 'disk_image_bytes', 'portability_artifact_bytes', 'portability_receive_start_ms'] as const) {
    assert.ok(byId.get(id)?.kinds['vm-os'], `${id}: ${JSON.stringify(byId.get(id)?.notMeasured)}`);
  }
  assert.ok(res.vmCost?.text.some((t) => /systemd/.test(t)));
  // The HTML: the column and the explanation.
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /<th data-kind="vm-os">vm: full OS/);
  assert.match(page, /<section id="vm-cost">/);
  // Nothing left: no instance, no receiving data root's VM, nothing on the host.
  assert.equal((await isola(fx.root, ['ps', '-a', '-q'])).stdout.trim(), '');
  assert.deepEqual(hostLeftovers(fx), []);
});
