import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextFreeIp, ipToInt, intToIp } from '../../../src/net/ipam.js';
import { macFor, netnsName, tapName, vethName } from '../../../src/net/names.js';
import { isIsolaError } from '../../../src/core/errors.js';

test('addresses: lowest free, skipping the gateway, never the broadcast', () => {
  assert.equal(nextFreeIp([]), '10.77.0.2');
  assert.equal(nextFreeIp(['10.77.0.2', '10.77.0.3']), '10.77.0.4');
  assert.equal(nextFreeIp(['10.77.0.3']), '10.77.0.2');
  assert.equal(intToIp(ipToInt('10.77.1.255') + 1), '10.77.2.0');
  assert.throws(() => nextFreeIp(['10.0.0.2'], '10.0.0.0/30', '10.0.0.1'), (e) => isIsolaError(e, 'UNAVAILABLE'));
});

test('host object names carry the isola prefix and fit IFNAMSIZ', () => {
  const id = 'abcdef0123456789'.repeat(4);
  for (const n of [vethName(id), tapName(id)]) {
    assert.ok(n.startsWith('isola'));
    assert.ok(n.length <= 15, n);
  }
  assert.ok(netnsName(id).startsWith('isola-'));
  assert.match(macFor(id), /^02(:[0-9a-f]{2}){5}$/);
});
