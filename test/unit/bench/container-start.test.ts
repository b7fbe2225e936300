import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerStartRows } from '../../../src/bench/scenarios/container-start.js';

const row = (rows: ReturnType<typeof containerStartRows>, part: string) => {
  const r = rows.find((x) => x.name.includes(part));
  assert.ok(r, `no row naming ${part}`);
  return r;
};

test('container start rows: each target met or not from pair-by-pair figures of the same run', () => {
  const raw = {
    'isola-none': [100, 110, 120], 'isola-bridge': [200, 210, 220], runc: [30, 30, 30],
    'podman-none': [120, 120, 120], 'podman-bridge': [150, 150, 150], 'docker-none': [200, 200, 200],
    version: [60, 61, 62], node: [50, 50, 50],
  };
  const rows = containerStartRows(raw, {});
  assert.equal(row(rows, 'podman run --rm --network none').ok, true); // 110 vs 120
  assert.equal(row(rows, 'podman run --rm --network none').value, 120);
  assert.equal(row(rows, 'podman run --rm --network bridge').ok, false); // 210 vs 150
  assert.equal(row(rows, 'isola (none) minus').value, 80);
  assert.equal(row(rows, 'isola (none) minus').ok, false);
  assert.equal(row(rows, '--version').value, 11);
  assert.equal(row(rows, '--version').ok, true);
  assert.equal(row(rows, 'docker run').value, 200);
  assert.equal(row(rows, 'docker run').ok, null); // reported beside, no target
});

test('container start rows: a peer that could not run is a row without a value that says why', () => {
  const raw = { 'isola-none': [100], 'isola-bridge': [200], runc: [30], 'podman-none': [90], version: [70], node: [40] };
  const rows = containerStartRows(raw, { 'podman-bridge': 'podman failed here (exit 126): no', 'docker-none': 'the private dockerd did not start: x' });
  const pb = row(rows, 'podman run --rm --network bridge');
  assert.equal(pb.value, null);
  assert.equal(pb.ok, null);
  assert.match(pb.note ?? '', /exit 126/);
  assert.match(row(rows, 'docker run').note ?? '', /dockerd did not start/);
  assert.equal(row(rows, 'podman run --rm --network none').ok, false);
  assert.equal(row(rows, '--version').ok, false); // 30 ms over node
});

test('container start rows: the runs without the host\'s NODE_EXTRA_CA_CERTS are reported beside, paired with podman and node', () => {
  const raw = {
    'isola-none': [150, 160, 170], 'isola-bridge': [200, 210, 220], runc: [30, 30, 30], 'podman-none': [130, 130, 130],
    version: [60, 61, 62], node: [60, 60, 60], 'isola-none-noca': [120, 125, 130], 'node-noca': [25, 26, 27],
  };
  const rows = containerStartRows(raw, {});
  const noca = row(rows, 'NODE_EXTRA_CA_CERTS unset');
  assert.equal(noca.value, 125);
  assert.equal(noca.ok, null);
  assert.match(noca.ratio ?? '', /isola\/podman 0\.96/);
  assert.equal(row(rows, 'with the host\'s NODE_EXTRA_CA_CERTS minus without').value, 34);
  // Without those arms (a host that does not set it), no such rows.
  const plain = containerStartRows({ ...raw, 'isola-none-noca': [], 'node-noca': [] }, {});
  assert.equal(plain.some((r) => r.name.includes('NODE_EXTRA_CA_CERTS')), false);
});
