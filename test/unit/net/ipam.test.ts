import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSubnet, cidrContains, cidrText, cidrsOverlap, intToIp, ipToInt, nextFreeIp, nextFreeSubnet, parseCidr, subnetOf, type Cidr } from '../../../src/net/ipam.js';
import { bridgeName, hostTapName, hostVethName, macFor, netnsName, tapName, vethName } from '../../../src/net/names.js';
import { parseRoutes } from '../../../src/net/routes.js';
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

test('CIDRs: parsed only when the address is the network address; overlap and containment', () => {
  assert.deepEqual(parseCidr('10.78.0.0/24'), { base: ipToInt('10.78.0.0'), bits: 24 });
  for (const bad of ['10.78.0.1/24', '10.78.0.0', '10.78.0.0/33', '300.1.1.0/24', 'x/24']) assert.equal(parseCidr(bad), null, bad);
  const a = parseCidr('10.78.0.0/16') as Cidr;
  assert.ok(cidrsOverlap(a, parseCidr('10.78.5.0/24') as Cidr));
  assert.ok(!cidrsOverlap(a, parseCidr('10.79.0.0/24') as Cidr));
  assert.ok(cidrContains(a, '10.78.255.254') && !cidrContains(a, '10.79.0.0'));
  assert.equal(cidrText(subnetOf('10.77.3.9', 16)), '10.77.0.0/16');
});

test('user subnets: the first free /24 of 10.78.0.0/15, skipping what networks and host routes hold', () => {
  assert.equal(cidrText(nextFreeSubnet([])), '10.78.0.0/24');
  const taken = ['10.78.0.0/24', '10.78.1.0/25', '10.78.2.128/25'].map((c) => parseCidr(c) as Cidr);
  assert.equal(cidrText(nextFreeSubnet(taken)), '10.78.3.0/24');
  assert.equal(cidrText(nextFreeSubnet([parseCidr('10.78.0.0/16') as Cidr])), '10.79.0.0/24', 'a host route over half the pool');
  assert.throws(() => nextFreeSubnet([parseCidr('10.0.0.0/8') as Cidr]), (e) => isIsolaError(e, 'RESOURCE_EXHAUSTED'));
});

test('--subnet and --gateway: a network address, a sane prefix, a gateway inside it', () => {
  assert.deepEqual(checkSubnet('10.90.0.0/24'), { subnet: parseCidr('10.90.0.0/24'), gateway: '10.90.0.1' });
  assert.equal(checkSubnet('10.90.0.0/24', '10.90.0.254').gateway, '10.90.0.254');
  for (const [s, g] of [['10.90.0.1/24', undefined], ['10.90.0.0/30', undefined], ['10.0.0.0/7', undefined], ['10.90.0.0/24', '10.90.1.1'], ['10.90.0.0/24', '10.90.0.0'], ['10.90.0.0/24', '10.90.0.255'], ['10.90.0.0/24', 'gw']]) {
    assert.throws(() => checkSubnet(s as string, g), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), `${s} ${g}`);
  }
});

test('host routes from /proc/net/route: little-endian hex, default routes left out', () => {
  const text = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    'isola0\t00004D0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');
  assert.deepEqual(parseRoutes(text).map((r) => `${r.dev} ${cidrText(r.dest)}`), ['eth0 192.0.2.0/24', 'isola0 10.77.0.0/16']);
});

test('user network bridges and later interfaces are named within IFNAMSIZ, each interface its own MAC', () => {
  const id = 'abcdef0123456789'.repeat(4);
  assert.equal(bridgeName(id), 'isolabr-abcdef0');
  assert.equal(hostVethName(id), vethName(id));
  assert.equal(hostTapName(id, 'eth0'), tapName(id));
  for (const n of [bridgeName(id), hostVethName(id, 'eth7'), hostTapName(id, 'eth7')]) assert.ok(n.length <= 15 && n.startsWith('isola'), n);
  const macs = ['eth0', 'eth1', 'eth7'].map((i) => macFor(id, i));
  assert.equal(new Set(macs).size, 3);
  for (const m of macs) assert.equal(parseInt(m.slice(0, 2), 16) & 3, 2, `${m}: locally administered unicast`);
});
