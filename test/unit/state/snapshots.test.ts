import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../../src/state/db.js';
import { InstanceRepo, type InstanceRecord } from '../../../src/state/instances.js';
import { SnapshotRepo } from '../../../src/state/snapshots.js';

const rec = (id: string): InstanceRecord => ({
  id, name: `n-${id}`, kind: 'vm', imageRef: 'base:latest', imageDigest: 'sha256:x', state: 'exited',
  createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, exitCode: 0, oomKilled: false, ip: null,
  autoRemove: false, cleaned: true, spec: {} as InstanceRecord['spec'], data: {}, ports: [], owner: null, bootId: null,
});

test('snapshots: a name is unique per instance, creating rows name their maker, and rows go with their instance', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-snapshots-'));
  const db = openDb(path.join(dir, 'isola.db'));
  try {
    const instances = new InstanceRepo(db);
    const snaps = new SnapshotRepo(db);
    instances.insert(() => rec('a'));
    instances.insert(() => rec('b'));
    const owner = { pid: 1, startTime: 2, bootId: 'x' };
    assert.equal(snaps.begin({ id: 's1', instanceId: 'a', name: 'one', kind: 'vm', createdAt: 't1', owner }), true);
    assert.equal(snaps.begin({ id: 's2', instanceId: 'a', name: 'one', kind: 'vm', createdAt: 't2', owner }), false, 'the same name on the same instance clashes');
    assert.equal(snaps.begin({ id: 's3', instanceId: 'b', name: 'one', kind: 'vm', createdAt: 't3', owner }), true, 'another instance may use the name');
    assert.deepEqual(snaps.get('a', 'one')?.owner, owner);
    assert.equal(snaps.get('a', 'one')?.state, 'creating');
    snaps.ready('s1', 4096);
    assert.deepEqual({ ...snaps.get('a', 'one'), createdAt: '' }, { id: 's1', instanceId: 'a', name: 'one', kind: 'vm', state: 'ready', createdAt: '', bytes: 4096, owner: null });
    assert.deepEqual(snaps.named('one').map((s) => s.instanceId).sort(), ['a', 'b']);
    assert.throws(() => snaps.begin({ id: 's4', instanceId: 'nobody', name: 'x', kind: 'vm', createdAt: 't', owner: null }), /FOREIGN KEY/, 'a snapshot belongs to an instance that exists');
    instances.delete('a');
    assert.deepEqual(snaps.list().map((s) => s.id), ['s3'], 'removing an instance removes its snapshots');
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
