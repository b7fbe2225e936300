import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultAssumptions, override, parseAssumeFlag } from '../../../src/advise/assumptions.js';
import { capacityOf, parseHostFlag } from '../../../src/advise/host.js';
import { isIsolaError } from '../../../src/core/errors.js';

const invalidWith = (re: RegExp) => (e: unknown) => isIsolaError(e, 'INVALID_ARGUMENT') && re.test(e.oneLine());

test('--host MEMORY/CORES', () => {
  assert.deepEqual(parseHostFlag('128G/32'), { name: '128G/32', memoryBytes: 128 * 2 ** 30, cores: 32 });
  assert.throws(() => parseHostFlag('128G/0'), invalidWith(/cores "0" must be a whole number of at least 1/));
  assert.throws(() => parseHostFlag('128/32'), invalidWith(/memory "128" needs a unit/));
  assert.throws(() => parseHostFlag('-128G/32'), invalidWith(/needs a unit and must be positive/));
  assert.throws(() => parseHostFlag('128G'), invalidWith(/use MEMORY\/CORES/));
});

test('a reserve that leaves nothing is an error', () => {
  assert.throws(() => capacityOf(parseHostFlag('8G/4'), defaultAssumptions(), 8 * 2 ** 30), invalidWith(/leaves nothing of host 8G\/4/));
});

test('--assume overrides by key and rejects unknown keys and out-of-range values', () => {
  assert.deepEqual(parseAssumeFlag('host.price=12000'), ['host.price', 12000]);
  assert.throws(() => parseAssumeFlag('host.price'), invalidWith(/use key=number/));
  const a = override(defaultAssumptions(), { 'host.price': 12000 }, 'flag', 'command line');
  assert.equal(a['host.price'].value, 12000);
  assert.equal(a['host.price'].origin, 'flag');
  assert.throws(() => override(a, { 'host.prize': 1 }, 'flag', 'x'), invalidWith(/unknown assumption "host.prize"/));
  assert.throws(() => override(a, { 'vm.cpuFactor': 0.5 }, 'flag', 'x'), invalidWith(/vm.cpuFactor=0.5 is out of range/));
});

test('every default assumption says where it comes from', () => {
  for (const a of Object.values(defaultAssumptions())) {
    assert.ok(a.source.length > 10, a.key);
    assert.ok(['published', 'comparison', 'placeholder', 'policy'].includes(a.provenance), a.key);
    if (a.provenance === 'comparison') assert.match(a.source, /^the common VM-vs-container comparison, performance table: "[^"]+"/, a.key);
  }
  assert.equal(defaultAssumptions()['vm.guestOsMiB'].provenance, 'comparison');
});
