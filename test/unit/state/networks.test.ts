import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openDb } from '../../../src/state/db.js';
import { MIGRATIONS } from '../../../src/state/migrations.js';
import { InstanceRepo, type InstanceRecord } from '../../../src/state/instances.js';
import { NetworkRepo, type NetworkRecord } from '../../../src/state/networks.js';
import { isIsolaError } from '../../../src/core/errors.js';

function fresh() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-state-'));
  const db = openDb(path.join(dir, 'isola.db'));
  return { db, dir, nets: new NetworkRepo(db), inst: new InstanceRepo(db), close: () => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const net = (id: string, name: string, subnet: string): NetworkRecord => ({
  id, name, subnet, gateway: subnet.replace(/0\/\d+$/, '1'), bridge: `isolabr-${id.slice(0, 7)}`, createdAt: new Date().toISOString(), state: 'creating', owner: null,
});

const inst = (id: string, ip: string, networkId = 'bridge'): InstanceRecord => ({
  id, name: `n-${id}`, kind: 'container', imageRef: 'base:latest', imageDigest: `sha256:${'a'.repeat(64)}`, state: 'creating',
  createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, exitCode: null, oomKilled: false, ip,
  autoRemove: false, cleaned: false, data: {}, ports: [], owner: null, bootId: null,
  spec: { network: { mode: 'bridge', bridge: 'b', ip, prefixLength: 24, gateway: 'g', mac: 'm', networkId, ifname: 'eth0' } } as unknown as InstanceRecord['spec'],
});

test('networks: names unique, found by name, id or prefix; the subnet choice sees the others', () => {
  const { nets, close } = fresh();
  try {
    nets.insert(() => net('a1'.padEnd(64, '0'), 'app', '10.78.0.0/24'));
    let seen: string[] = [];
    nets.insert((subnets) => {
      seen = subnets;
      return net('b2'.padEnd(64, '0'), 'db', '10.78.1.0/24');
    });
    assert.deepEqual(seen, ['10.78.0.0/24']);
    assert.throws(() => nets.insert(() => net('c3'.padEnd(64, '0'), 'app', '10.78.2.0/24')), (e) => isIsolaError(e, 'ALREADY_EXISTS'));
    assert.equal(nets.find('app')?.subnet, '10.78.0.0/24');
    assert.equal(nets.find('b20')?.name, 'db');
    assert.equal(nets.find('nope'), undefined);
    nets.markReady('a1'.padEnd(64, '0'));
    assert.equal(nets.find('app')?.state, 'ready');
  } finally {
    close();
  }
});

test('endpoints: one address per network only once; removed with their instance; old instances migrate to eth0 on bridge', () => {
  const { nets, inst: instances, close } = fresh();
  try {
    instances.insert(() => inst('x', '10.78.0.2', 'n1'));
    assert.throws(() => instances.insert(() => inst('y', '10.78.0.2', 'n1')), /UNIQUE/);
    instances.insert((used) => {
      assert.deepEqual(used('n1'), ['10.78.0.2']);
      assert.deepEqual(used('bridge'), []);
      return inst('z', '10.78.0.3', 'n1');
    });
    nets.addEndpoint('z', 'bridge', (used, ifnames) => {
      assert.deepEqual(ifnames, ['eth0']);
      return { instanceId: 'z', networkId: 'bridge', ip: '10.77.0.2', ifname: 'eth1' };
    });
    assert.throws(() => nets.addEndpoint('z', 'bridge', () => ({ instanceId: 'z', networkId: 'bridge', ip: '10.77.0.3', ifname: 'eth2' })), (e) => isIsolaError(e, 'ALREADY_EXISTS'));
    assert.deepEqual(nets.endpointsOn('n1').map((e) => e.instanceId), ['x', 'z']);
    instances.delete('z');
    assert.deepEqual(nets.endpointsOf('z'), [], 'ON DELETE CASCADE');
  } finally {
    close();
  }
  // A database made before user networks: its instances get their eth0 on the default network.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-state-'));
  try {
    const file = path.join(dir, 'isola.db');
    const old = new Database(file);
    for (const m of MIGRATIONS.slice(0, 4)) old.exec(m);
    old.pragma('user_version = 4');
    old.prepare("INSERT INTO instances (id, name, kind, image_ref, image_digest, state, created_at, ip, spec_json) VALUES ('o', 'old', 'container', 'base', 'sha256:x', 'exited', 'now', '10.77.0.7', '{}')").run();
    old.close();
    const db = openDb(file);
    assert.deepEqual(new NetworkRepo(db).endpointsOf('o'), [{ instanceId: 'o', networkId: 'bridge', ip: '10.77.0.7', ifname: 'eth0' }]);
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
