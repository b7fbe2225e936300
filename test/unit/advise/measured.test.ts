import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adviseAll } from '../../../src/advise/advise-report.js';
import { costOf, parseMeasured } from '../../../src/advise/measured.js';
import { renderAdviceText } from '../../../src/advise/render-advice.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { compareFixture, withAnswers } from './fixtures.js';

const rejects = (value: unknown, re: RegExp) =>
  assert.throws(() => parseMeasured(typeof value === 'string' ? value : JSON.stringify(value), 'r.json'),
    (e) => isIsolaError(e, 'INVALID_ARGUMENT') && re.test(e.oneLine()) && !e.oneLine().includes('\n'));

test('a compare result of the right format and version loads', () => {
  const m = parseMeasured(JSON.stringify(compareFixture()), 'r.json');
  assert.equal(m.accelerator, 'KVM');
  // Version 1 differs only in names inside density's extra, which advise and plan do not read.
  assert.equal(parseMeasured(JSON.stringify({ ...compareFixture(), version: 1 }), 'v1.json').result.metrics.length, 4);
  const vm = costOf(m, 'vm');
  assert.equal(vm.find((f) => f.metric === 'startup_ready_ms')?.median, 900);
  assert.equal(costOf(m, 'hybrid').find((f) => f.metric === 'io_seq_ratio')?.notMeasured, 'no block device in the sandbox');
});

test('the wrong format, version or shape is a one-line error naming the field', () => {
  rejects('not json', /--measured r\.json: file is not JSON/);
  rejects([], /file is not a JSON object/);
  rejects({ ...compareFixture(), format: 'isola-bench' }, /format is "isola-bench", expected "isola-compare"/);
  rejects({ ...compareFixture(), version: 4 }, /version is 4, this isola reads version 1 or 2 or 3/);
  assert.equal(parseMeasured(JSON.stringify({ ...compareFixture(), version: 2 }), 'v2.json').result.metrics.length, 4);
  rejects({ ...compareFixture(), version: '2' }, /version is "2", this isola reads version 1 or 2 or 3/);
  rejects({ ...compareFixture(), context: { ...compareFixture().context, emulated: 'no' } }, /context\.emulated must be true or false/);
  rejects({ ...compareFixture(), metrics: {} }, /metrics must be a list/);
  rejects({ ...compareFixture(), metrics: [{ id: 'startup_ready_ms', kinds: { vm: { median: 'fast' } } }] }, /metrics\[0\]\.kinds\.vm\.median must be a number/);
});

test('advise states the measured cost of each choice and where it was measured', () => {
  const m = parseMeasured(JSON.stringify(compareFixture()), 'r.json');
  const report = adviseAll([withAnswers({ name: 'svc' }), withAnswers({ name: 'win', os: 'windows' })], m);
  assert.equal(report.measured?.accelerator, 'KVM');
  assert.equal(report.measured?.emulated, false);
  assert.equal(report.workloads[0]?.measuredCost?.kind, 'container');
  assert.equal(report.workloads[1]?.measuredCost?.kind, 'vm');
  assert.ok(report.workloads[1]?.measuredCost?.baseline, 'a VM is compared with a plain container');
  const text = renderAdviceText(report);
  assert.match(text, /measured figures: r\.json, from KVM on Test CPU/);
  assert.match(text, /measured cost as vm on this host: startup \(ready\) 900 ms; .*memory overhead per instance 150\.0MiB.*not measured: startup \(first output\) \(not in the file\)/);
});

test('figures measured under emulation are labelled as such', () => {
  const m = parseMeasured(JSON.stringify(compareFixture({ accelerator: 'tcg', emulated: true })), 'r.json');
  const text = renderAdviceText(adviseAll([withAnswers({ os: 'windows' })], m));
  assert.match(text, /from emulation \(TCG\)/);
  assert.match(text, /warning: VM figures were measured under emulation/);
});

test('a hardened container is measured as a plain container, and says so', () => {
  const m = parseMeasured(JSON.stringify(compareFixture()), 'r.json');
  const a = adviseAll([withAnswers({ trust: 'untrusted' })], m).workloads[0];
  assert.equal(a?.recommendation, 'hardened-container');
  assert.match(a?.measuredCost?.note ?? '', /gVisor/);
});
