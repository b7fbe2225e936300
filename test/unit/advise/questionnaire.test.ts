import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { advise } from '../../../src/advise/advise.js';
import { askWorkload } from '../../../src/advise/questionnaire.js';

async function answer(lines: string[]): Promise<{ workload: Awaited<ReturnType<typeof askWorkload>>; said: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let said = '';
  output.on('data', (d) => (said += String(d)));
  input.end(lines.map((l) => `${l}\n`).join(''));
  const workload = await askWorkload(input, output);
  return { workload, said };
}

test('answers become a workload; Enter leaves a question unanswered', async () => {
  const { workload } = await answer(['billing', 'linux', 'untrusted', '', 'pci-dss, hipaa', 'no', 'n', 'microservice', 'fast', 'yes', '1Gi', '0.5', '3']);
  assert.equal(workload.name, 'billing');
  assert.equal(workload.trust, 'untrusted');
  assert.equal(workload.tenancy, undefined, 'skipped, not defaulted');
  assert.deepEqual(workload.compliance, ['pci-dss', 'hipaa']);
  assert.equal(workload.legacy, false);
  assert.equal(workload.parity, true);
  assert.equal(workload.memoryBytes, 2 ** 30);
  assert.equal(workload.replicas, 3);
  assert.ok(advise(workload).missing.some((m) => m.field === 'tenancy'));
});

test('a wrong answer is explained and asked again', async () => {
  const { workload, said } = await answer(['x', 'macos', 'windows', '', '', '', '', '', '', '', '', '512', '512Mi']);
  assert.equal(workload.os, 'windows');
  assert.match(said, /answer one of: linux, windows, other/);
  assert.match(said, /give a size with a unit/);
  assert.equal(workload.memoryBytes, 512 * 2 ** 20);
});

test('end of input leaves the remaining questions unanswered', async () => {
  const { workload } = await answer(['only-a-name']);
  assert.deepEqual(Object.keys(workload).sort(), ['index', 'name']);
});
