import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { bridgeTableAdditions, elementCommands, ipTableAdditions, type PlacedRoute } from '../../../src/net/placed-routes.js';
import { elemKey } from '../../../src/net/nft.js';
import { tableScript } from '../../../src/net/nft.js';
import { machineTableScript } from '../../../src/net/machine-filter.js';
import { guestNetDown, guestVethFor, moreNetArgs, userNetworksOf } from '../../../src/drivers/machine/guest-net.js';
import { placedNetArgs, vethInGuest } from '../../../src/drivers/machine/placed.js';
import { which } from '../../../src/util/which.js';
import type { BridgeNetworkSpec, InstanceSpec } from '../../../src/core/types.js';

const r: PlacedRoute = { ip: '10.78.3.5', bridge: 'isolabr-abcdef1', gateway: '10.78.3.1', prefixLength: 24, subnet: '10.78.3.0/24', via: '10.77.0.2', tap: 'isolat0123456789'.slice(0, 15) };

test('a routed address is four set elements, named by the address (and the machine\'s tap), in both tables', () => {
  assert.deepEqual(elementCommands('add', r), [
    'add element ip isola placed { 10.78.3.5 }',
    'add element ip isola routed { 10.78.3.5 . 10.78.3.0/24 }',
    'add element bridge isola-machines placedip { 10.78.3.5 }',
    `add element bridge isola-machines placedby { 10.78.3.5 . "${r.tap}" }`,
  ]);
  assert.ok(elementCommands('delete', r).every((c) => c.startsWith('delete element ')));
  // nft -j's forms of the elements, read back for idempotent adds and deletes.
  assert.equal(elemKey('10.78.3.5'), '10.78.3.5');
  assert.equal(elemKey({ concat: ['10.78.3.5', { prefix: { addr: '10.78.3.0', len: 24 } }] }), '10.78.3.5 . 10.78.3.0/24');
  assert.equal(elemKey({ elem: { val: { concat: ['10.78.3.5', 'isolat012345678'] } } }), '10.78.3.5 . isolat012345678');
});

test('the forward rules land after the published-ports rule, the accept before the drop', () => {
  const cmds = ipTableAdditions(7);
  const rules = cmds.filter((c) => c.startsWith('add rule'));
  assert.equal(rules.length, 2);
  assert.ok(rules.every((c) => c.includes('forward position 7 iifname "isola0"')));
  // Each is added right after handle 7: the last added comes first.
  assert.match(rules[1] ?? '', /@routed accept/);
  assert.match(rules[0] ?? '', /ip saddr @placed ip daddr @subnets drop/);
});

test('the additions and elements are what nftables accepts (nft --check, nothing applied)', { skip: !which('nft', ['/usr/sbin', '/sbin']) || process.getuid?.() !== 0 ? 'needs nft and root' : false }, () => {
  const ip = (s: string) => s.replaceAll('ip isola ', 'ip isola_check ').replaceAll('table ip isola {', 'table ip isola_check {');
  const br = (s: string) => s.replaceAll('bridge isola-machines', 'bridge isola_mcheck');
  const script = [
    ip(tableScript()),
    ...ipTableAdditions(1).map((c) => ip(c).replace(/position \d+ /, '')),
    br(machineTableScript()),
    ...bridgeTableAdditions().map(br),
    ...elementCommands('add', r).map((c) => br(ip(c))),
  ].join('\n');
  execFileSync('nft', ['-c', '-f', '-'], { input: `${script}\n` });
});

test('in the guest: one veth per interface after eth0, a user network\'s named u... (routed to the host only), within 15 characters; user networks only are routed by the host', () => {
  const id = 'ab'.repeat(32);
  const iface = (ifname: string, networkId: string, ip: string): BridgeNetworkSpec => ({ mode: 'bridge', bridge: 'isolabr-x', ip, prefixLength: 24, gateway: '10.78.3.1', mac: '02:00:00:00:00:01', networkId, ifname });
  const [e0, e1, e2] = [iface('eth0', 'bridge', '10.77.0.9'), iface('eth1', 'n1', '10.78.3.5'), iface('eth2', 'bridge', '10.77.0.10')];
  const spec = { id, network: e0, moreNetworks: [e1, e2] } as unknown as InstanceSpec;
  assert.deepEqual(moreNetArgs(spec), [`u${id.slice(0, 12)}1`, '10.78.3.5/24', 'eth1', '02:00:00:00:00:01', `n${id.slice(0, 12)}2`, '10.77.0.10/24', 'eth2', '02:00:00:00:00:01']);
  assert.deepEqual(placedNetArgs({ ...spec, machine: { id, name: 'm', ip: '10.77.0.2', netns: true } }).slice(0, 1), [vethInGuest(id)]);
  const onUser = { ...spec, network: { ...e1, ifname: 'eth0' }, moreNetworks: [], machine: { id, name: 'm', ip: '10.77.0.2', netns: true } } as InstanceSpec;
  assert.deepEqual(placedNetArgs(onUser), [`u${id.slice(0, 12)}`, '10.78.3.5/24', '10.78.3.1', '02:00:00:00:00:01']);
  for (const n of [e1, { ...e1, ifname: 'eth7' }]) assert.ok(guestVethFor(id, n).length <= 15);
  assert.notEqual(guestVethFor(id, e1, true), vethInGuest(id));
  assert.deepEqual(userNetworksOf(spec).map((n) => n.ifname), ['eth1']);
  // Cleanup in the guest: the user network's veth and its rule to the host, every copy of it.
  assert.equal(guestNetDown(spec), `ip link del u${id.slice(0, 12)}1 2>/dev/null; while ip rule del pref 102 iif u${id.slice(0, 12)}1 2>/dev/null; do :; done; `);
});
