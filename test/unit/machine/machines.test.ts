import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../../src/state/db.js';
import { MachineRepo, type MachineRecord } from '../../../src/state/machines.js';
import { InstanceRepo, type InstanceRecord } from '../../../src/state/instances.js';
import { NetworkRepo } from '../../../src/state/networks.js';
import { nextFreeIp } from '../../../src/net/ipam.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { CONTAINER_START_SCRIPT, MACHINE_SCRIPT } from '../../../src/drivers/machine/guest.js';
import { copyEtcToShare, decodePlacedData, placedNetArgs, pointEtcMounts, vethInGuest } from '../../../src/drivers/machine/placed.js';
import type { InstanceSpec } from '../../../src/core/types.js';
import { placeInMachine } from '../../../src/engine/placement.js';
import { defaultRunRequest } from '../../../src/engine/request.js';
import type { MachineEngine } from '../../../src/engine/machines.js';

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-machines-'));
  const db = openDb(path.join(dir, 'isola.db'));
  return { dir, db, machines: new MachineRepo(db), instances: new InstanceRepo(db), close: () => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const machine = (id: string, name: string, ip: string): MachineRecord => ({
  id, name, state: 'stopped', createdAt: new Date().toISOString(), networkId: 'bridge', ip, spec: { id, name } as MachineRecord['spec'], data: {}, owner: null,
});

test('a machine takes an address that no instance holds, and instances then skip the machine\'s', () => {
  const s = setup();
  try {
    const first = s.instances.insert((used) => {
      const ip = nextFreeIp(used('bridge'));
      return { id: 'a'.repeat(64), name: 'c1', kind: 'container', imageRef: 'b', imageDigest: 'd', state: 'creating', createdAt: 't', startedAt: null, finishedAt: null, exitCode: null, oomKilled: false,
        ip, autoRemove: false, cleaned: false, spec: { network: { mode: 'bridge', bridge: 'isola0', ip, prefixLength: 16, gateway: '10.77.0.1', mac: 'x' } } as InstanceRecord['spec'], data: {}, ports: [], owner: null, bootId: null };
    });
    const m = s.machines.insert('bridge', (used) => {
      assert.ok(used.includes(first.ip ?? ''), 'the instance\'s address is taken');
      return machine('b'.repeat(64), 'prod', nextFreeIp(used));
    });
    assert.notEqual(m.ip, first.ip);
    const second = s.instances.insert((used) => {
      assert.ok(used('bridge').includes(m.ip), 'the machine\'s address is taken');
      return { ...first, id: 'c'.repeat(64), name: 'c2', ip: nextFreeIp(used('bridge')), spec: { network: { mode: 'none' } } as InstanceRecord['spec'] };
    });
    assert.notEqual(second.ip, m.ip);
    // A user network's endpoint allocation sees machines too.
    const nets = new NetworkRepo(s.db);
    nets.addEndpoint(second.id, 'bridge', (used) => {
      assert.ok(used.includes(m.ip));
      return { instanceId: second.id, networkId: 'bridge', ip: '10.77.0.99', ifname: 'eth0' };
    });
  } finally {
    s.close();
  }
});

test('machine names are unique, found by name or id prefix, and records keep their VM data', () => {
  const s = setup();
  try {
    s.machines.insert('bridge', () => machine('d'.repeat(64), 'dev', '10.77.0.10'));
    assert.throws(() => s.machines.insert('bridge', () => machine('e'.repeat(64), 'dev', '10.77.0.11')), (e: unknown) => isIsolaError(e) && e.code === 'ALREADY_EXISTS');
    assert.equal(s.machines.find('ddd')?.name, 'dev');
    assert.equal(s.machines.find('nope'), undefined);
    s.machines.setData('d'.repeat(64), { pid: 7 }, 'running');
    const back = s.machines.get('d'.repeat(64));
    assert.equal(back?.state, 'running');
    assert.deepEqual(back?.data, { pid: 7 });
    s.machines.delete('d'.repeat(64));
    assert.equal(s.machines.list().length, 0);
  } finally {
    s.close();
  }
});

test('run --machine is refused in one line for an unknown or stopped machine, too much memory, another kind; --network NAME is placed', async () => {
  const s = setup();
  try {
    const engine = { db: s.db, instances: s.instances, reconcile: async () => undefined, drivers: { machines: async () => ({ observe: async () => ({ state: 'running', pid: 1 }), cleanup: async () => undefined }) } } as unknown as MachineEngine;
    const req = (over: object) => ({ ...defaultRunRequest('base'), kind: 'hybrid' as const, machine: 'prod', ...over });
    const code = async (over: object) => placeInMachine(engine, req(over)).then(() => 'ok', (e: unknown) => (isIsolaError(e) ? `${e.code}: ${e.message}` : String(e)));
    assert.match(await code({}), /^NOT_FOUND: no such machine: prod/);
    s.machines.insert('bridge', () => ({ ...machine('f'.repeat(64), 'prod', '10.77.0.20'), spec: { id: 'f'.repeat(64), name: 'prod', memoryBytes: 512 * 1024 * 1024 } as MachineRecord['spec'] }));
    assert.match(await code({}), /^FAILED_PRECONDITION: machine prod is not running/);
    s.machines.setState('f'.repeat(64), 'running');
    assert.equal(await code({}), 'ok');
    assert.equal((await placeInMachine(engine, req({}))).netns, true, 'a network namespace of its own');
    assert.equal(await code({ network: 'none' }), 'ok');
    assert.match(await code({ memoryBytes: 1024 * 1024 * 1024 }), /^INVALID_ARGUMENT: -m 1.00GiB is more than machine prod has for its containers \(416.0MiB of its 512.0MiB\)/);
    assert.match(await code({ kind: 'vm' }), /^INVALID_ARGUMENT: --machine places a container inside a machine's VM/);
    // A user network is placed too: the engine resolves it, the host routes the address to the machine.
    assert.equal(await code({ network: 'backend' }), 'ok');
  } finally {
    s.close();
  }
});

test('the guest scripts stop every container on SIGTERM and start one under conmon with its log and exit file in the share', () => {
  assert.match(MACHINE_SCRIPT, /trap stopall TERM/);
  assert.match(MACHINE_SCRIPT, /kill "\$c" KILL/);
  assert.match(CONTAINER_START_SCRIPT, /--exit-dir "\$d\/exit" -l "k8s-file:\$d\/ctr.log"/);
  assert.match(CONTAINER_START_SCRIPT, /mount -t overlay overlay -o "lowerdir=\$lower/);
  assert.equal(decodePlacedData({ placed: 1, rootfs: '/r', startedAt: null, machineStartedAt: 't' })?.machineStartedAt, 't');
  assert.equal(decodePlacedData({ hybrid: 1 }), null);
});

test('a placed container\'s network: its own address on isola0 through a veth, loopback only, or (placed before) the machine\'s', () => {
  const id = 'ab'.repeat(32);
  const placed = { id: 'f'.repeat(64), name: 'prod', ip: '10.77.0.20', netns: true as const };
  const bridge = { mode: 'bridge' as const, bridge: 'isola0', ip: '10.77.0.21', prefixLength: 16, gateway: '10.77.0.1', mac: '02:00:00:00:00:01' };
  const spec = (over: object) => ({ id, machine: placed, network: bridge, ...over }) as unknown as InstanceSpec;
  assert.deepEqual(placedNetArgs(spec({})), ['cabababababab', '10.77.0.21/16', '10.77.0.1', '02:00:00:00:00:01']);
  assert.ok(vethInGuest(id).length <= 15, 'an interface name fits IFNAMSIZ');
  assert.deepEqual(placedNetArgs(spec({ network: { mode: 'none' } })), ['none']);
  assert.deepEqual(placedNetArgs(spec({ machine: { ...placed, netns: undefined }, network: { mode: 'none' } })), ['-']);
  // The machine routes and answers ARP for its containers; the start script moves a veth end in.
  assert.match(MACHINE_SCRIPT, /conf\/all\/proxy_arp/);
  assert.match(MACHINE_SCRIPT, /ipv4\/ip_forward/);
  assert.match(CONTAINER_START_SCRIPT, /ip link set "\$peer" netns "\$pid"/);
  assert.match(CONTAINER_START_SCRIPT, /\/\.isola\/ctr-net --route "\$net" "\$\{addr%\/\*\}"/, 'the guest\'s route to it: guest-net.ts');
});

test('a placed container\'s own /etc files: its binds point at its copies in the machine share, copied in place', () => {
  const id = 'cd'.repeat(32);
  const config = { mounts: [
    { destination: '/proc', source: 'proc' },
    { destination: '/etc/hostname', source: '/etc/hostname' }, { destination: '/etc/hosts', source: '/etc/hosts' }, { destination: '/etc/resolv.conf', source: '/etc/resolv.conf' },
  ] };
  pointEtcMounts(config, id);
  assert.deepEqual(config.mounts.map((m) => m.source), ['proc', `/.isola/m/${id}/etc/hostname`, `/.isola/m/${id}/etc/hosts`, `/.isola/m/${id}/etc/resolv.conf`]);
  // A config without the three binds is a bug, never a container silently reading the machine's files.
  assert.throws(() => pointEtcMounts({ mounts: [{ destination: '/etc/hosts', source: '/etc/hosts' }] }, id), /binds 1 of the 3/);
  const share = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-share-'));
  try {
    copyEtcToShare({ hostname: 'h\n', hosts: '10.77.0.9\th n\n', resolv: 'nameserver 10.0.0.2\n' }, share);
    const hosts = path.join(share, 'etc', 'hosts');
    const ino = fs.statSync(hosts).ino;
    copyEtcToShare({ hostname: 'h\n', hosts: '10.77.0.9\th n\n10.1.1.1\tpeer\n', resolv: 'nameserver 10.0.0.2\n' }, share);
    assert.equal(fs.readFileSync(hosts, 'utf8'), '10.77.0.9\th n\n10.1.1.1\tpeer\n');
    assert.equal(fs.statSync(hosts).ino, ino, 'rewritten in place: a running container\'s bind sees it');
    assert.deepEqual(fs.readdirSync(path.join(share, 'etc')).sort(), ['hostname', 'hosts', 'resolv.conf']);
  } finally {
    fs.rmSync(share, { recursive: true, force: true });
  }
});
