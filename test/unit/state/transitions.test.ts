import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../../src/state/db.js';
import { InstanceRepo, type InstanceRecord } from '../../../src/state/instances.js';

function repo(): { r: InstanceRepo; dir: string; close: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-state-'));
  const db = openDb(path.join(dir, 'isola.db'));
  return { r: new InstanceRepo(db), dir, close: () => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const rec = (id: string): InstanceRecord => ({
  id, name: `n-${id}`, kind: 'container', imageRef: 'base:latest', imageDigest: `sha256:${'a'.repeat(64)}`, state: 'creating',
  createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, exitCode: null, oomKilled: false, ip: null,
  autoRemove: false, cleaned: false, spec: {} as InstanceRecord['spec'], data: {}, ports: [], owner: null, bootId: null,
});

test('state transitions only move forward: a late writer cannot undo an exit', () => {
  const { r, close } = repo();
  try {
    r.insert(() => rec('x'));
    r.markCreated('x', { a: 1 });
    assert.equal(r.markRunning('x', { a: 2 }, 'now', 'boot'), true);
    r.markExited('x', 3, false, 'later');
    assert.equal(r.markRunning('x', { a: 9 }, 'again', 'boot'), false, 'running is never written over exited');
    r.markCreated('x', { a: 9 });
    r.markExited('x', 7, false, 'even later');
    const got = r.get('x');
    assert.equal(got?.state, 'exited');
    assert.equal(got?.exitCode, 3, 'the first exit recorded stays');
    assert.deepEqual(got?.data, { a: 2 });
    r.setData('x', { a: 10 });
    assert.deepEqual(r.get('x')?.data, { a: 2 }, 'an exited instance\'s record is not rewritten');
  } finally {
    close();
  }
});

test('a create whose process died becomes dead, and only from creating', () => {
  const { r, close } = repo();
  try {
    r.insert(() => rec('y'));
    r.markDead('y');
    assert.equal(r.get('y')?.state, 'dead');
    r.markCreated('y', {});
    assert.equal(r.get('y')?.state, 'dead', 'a dead create does not come back');
    r.insert(() => rec('z'));
    r.markCreated('z', {});
    r.markDead('z');
    assert.equal(r.get('z')?.state, 'created', 'only a create in progress can die');
  } finally {
    close();
  }
});
