import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInventory, parseInventory } from '../../../src/advise/load-inventory.js';
import { workloadFileSchema } from '../../../src/advise/profile-schema.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { ROOT } from './fixtures.js';

/** Asserts a one-line INVALID_ARGUMENT error whose message matches every pattern. */
function rejects(text: string, ...patterns: RegExp[]) {
  assert.throws(() => parseInventory(text, 'w.yaml'), (e) => {
    assert.ok(isIsolaError(e, 'INVALID_ARGUMENT'), String(e));
    const line = e.oneLine();
    assert.ok(!line.includes('\n'), `not one line: ${line}`);
    for (const p of patterns) assert.match(line, p);
    return true;
  });
}

test('the documented schema is the enforced one', () => {
  const documented = JSON.parse(readFileSync(join(ROOT, 'docs', 'workload.schema.json'), 'utf8'));
  assert.deepEqual(documented, JSON.parse(JSON.stringify(workloadFileSchema)));
});

test('the worked example loads', async () => {
  const inv = await loadInventory(join(ROOT, 'examples', 'workloads.yaml'));
  assert.equal(inv.workloads.length, 6);
  assert.equal(inv.workloads[0]?.name, 'payments-api');
  assert.equal(inv.workloads[0]?.memoryBytes, 512 * 2 ** 20);
  assert.deepEqual(inv.workloads[0]?.compliance, ['pci-dss']);
  assert.equal(inv.hosts[0]?.memoryBytes, 128 * 2 ** 30);
});

test('a single workload without a workloads: list is accepted, every field optional', () => {
  const inv = parseInventory('name: solo\n', 'w.yaml');
  assert.equal(inv.workloads.length, 1);
  assert.equal(inv.workloads[0]?.os, undefined, 'not defaulted');
  assert.equal(parseInventory('{}', 'w.json').workloads[0]?.name, 'workload 1');
});

test('JSON takes the same schema', () => {
  const inv = parseInventory(JSON.stringify({ workloads: [{ name: 'j', memory: '1Gi', cpus: 1 }] }), 'w.json');
  assert.equal(inv.workloads[0]?.memoryBytes, 2 ** 30);
  rejects('{"workloads": [{"name": "j",\n "memroy": "1Gi"}]}', /^w\.yaml:2: workloads\[0\]\.memroy: unknown field/);
});

test('an unknown field names the field and its line', () => {
  rejects('workloads:\n  - name: a\n  - name: b\n    tenacy: multi\n', /w\.yaml:4: workloads\[1\]\.tenacy: unknown field/, /allowed fields here: name, os/);
  rejects('workload:\n  - name: a\n', /w\.yaml:1: workload: unknown field/);
});

test('a wrong type or value names the field and its line', () => {
  rejects('workloads:\n  - name: a\n    legacy: "no"\n', /w\.yaml:3: workloads\[0\]\.legacy: must be boolean/);
  rejects('workloads:\n  - name: a\n    os: macos\n', /w\.yaml:3: workloads\[0\]\.os: "macos" is not one of linux, windows, other/);
  rejects('workloads:\n  - name: a\n    compliance: [sox]\n', /w\.yaml:3: workloads\[0\]\.compliance\[0\]/);
  rejects('workloads:\n  - cpus: 0\n', /w\.yaml:2: workloads\[0\]\.cpus: 0 must be greater than 0/);
  rejects('workloads:\n  - replicas: 1.5\n', /workloads\[0\]\.replicas: must be integer/);
});

test('sizes need a unit and must be positive', () => {
  rejects('workloads:\n  - memory: 512\n', /w\.yaml:2: workloads\[0\]\.memory: unit-less size 512/, /512Mi/);
  rejects('workloads:\n  - memory: "512"\n', /unit-less size "512"/);
  rejects('workloads:\n  - memory: -5Gi\n', /w\.yaml:2: workloads\[0\]\.memory: negative size "-5Gi"/);
  rejects('workloads:\n  - memory: 0Mi\n', /workloads\[0\]\.memory: size "0Mi" must be greater than zero/);
  rejects('workloads:\n  - memory: 5 parsecs\n', /is not a size with a unit/);
});

test('zero hosts is an error, as an empty list or a count of 0', () => {
  rejects('workloads: []\nhosts: []\n', /w\.yaml:2: hosts: empty list: zero hosts/);
  rejects('hosts:\n  - memory: 128G\n    cores: 32\n    count: 0\n', /w\.yaml:4: hosts\[0\]\.count: 0 must be at least 1/, /zero hosts/);
  rejects('hosts:\n  - memory: 128G\n', /hosts\[0\]: missing required field "cores"/);
});

test('malformed YAML gives its line', () => {
  rejects('workloads:\n  - name: a\n   bad: [\n', /^w\.yaml:\d+: malformed YAML/);
  rejects('workloads:\n  - name: a\n    name: b\n', /w\.yaml:3: malformed YAML: Map keys must be unique/);
  rejects('', /the file is empty/);
  rejects('- a\n- b\n', /the top level must be a mapping/);
});

test('assumptions are validated by key', () => {
  assert.equal(parseInventory('assumptions:\n  host.price: 9000\n', 'w.yaml').assumptions['host.price'], 9000);
  rejects('assumptions:\n  host.prize: 9000\n', /w\.yaml:2: assumptions\.host\.prize: unknown field/);
});

test('a missing file is NOT_FOUND', async () => {
  await assert.rejects(loadInventory('/nonexistent/w.yaml'), (e) => isIsolaError(e, 'NOT_FOUND'));
});
