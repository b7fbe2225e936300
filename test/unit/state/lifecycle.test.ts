import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../../src/state/db.js';
import { InstanceRepo, lifeOf, type InstanceRecord } from '../../../src/state/instances.js';
import { EventRepo, EVENTS_KEPT } from '../../../src/state/events.js';

function open() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-life-'));
  const db = openDb(path.join(dir, 'isola.db'));
  return { r: new InstanceRepo(db), ev: new EventRepo(db), close: () => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const rec = (id: string): InstanceRecord => ({
  id, name: `n-${id}`, kind: 'container', imageRef: 'base:latest', imageDigest: `sha256:${'a'.repeat(64)}`, state: 'creating',
  createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, exitCode: null, oomKilled: false, ip: null,
  autoRemove: false, cleaned: false, spec: { name: `n-${id}`, restart: { name: 'always', maxRetries: 0 } } as unknown as InstanceRecord['spec'], data: {}, ports: [], owner: null, bootId: null,
});

const me = { pid: process.pid, startTime: 1, bootId: 'b' };

test('a new run: only an exited, cleaned-up instance reopens, once; an earlier run\'s exit cannot end the new one', () => {
  const { r, close } = open();
  try {
    r.insert(() => rec('x'));
    r.markCreated('x', {});
    r.markRunning('x', {}, 'now', 'boot');
    assert.equal(r.reopen('x', 0, false), false, 'a running instance does not reopen');
    assert.equal(r.markExited('x', 3, false, 'later', 0), true);
    assert.equal(r.reopen('x', 0, false), false, 'not before its cleanup');
    assert.equal(r.claimCleanup('x'), true);
    assert.equal(r.reopen('x', 0, false), true);
    assert.equal(r.reopen('x', 0, false), false, 'exactly one caller reopens a run');
    let got = r.get('x');
    assert.equal(got?.state, 'created');
    assert.equal(lifeOf(got as InstanceRecord).runSeq, 1);
    assert.equal(lifeOf(got as InstanceRecord).restartCount, 1, 'the policy\'s restart counts');
    assert.equal(got?.cleaned, false);
    r.markRunning('x', {}, 'again', 'boot');
    assert.equal(r.markExited('x', 9, false, 'stale', 0), false, 'the exit of run 0 is not recorded over run 1');
    assert.equal(r.get('x')?.state, 'running');
    assert.equal(r.markExited('x', 0, false, 'done', 1), true);
    r.claimCleanup('x');
    assert.equal(r.reopen('x', 1, true), true);
    got = r.get('x');
    assert.equal(lifeOf(got as InstanceRecord).restartCount, 0, 'a start by the user resets the count');
  } finally {
    close();
  }
});

test('a restart is scheduled once per run, never after a stop by the user, and claimed by one live owner', () => {
  const { r, close } = open();
  try {
    r.insert(() => rec('y'));
    r.markCreated('y', {});
    r.markRunning('y', {}, 'now', 'boot');
    r.markExited('y', 1, false, 'later', 0);
    const p = { due: new Date().toISOString(), since: new Date().toISOString(), owner: null };
    assert.equal(r.scheduleRestart('y', 0, p, 100), true);
    assert.equal(r.scheduleRestart('y', 0, p, 100), false, 'once');
    assert.deepEqual(r.listWithRestartPolicy().map((x) => x.id), ['y']);
    assert.equal(r.claimRestart('y', me, () => true), true, 'ownerless: ours');
    assert.equal(r.claimRestart('y', { ...me, pid: 1 }, () => true), false, 'a live owner keeps it');
    assert.equal(r.claimRestart('y', { ...me, pid: 1 }, () => false), true, 'a dead owner\'s is taken over');
    const pending = r.markStoppedByUser('y');
    assert.equal(pending?.owner?.pid, 1, 'stop hands back the restart it cancelled (to end its owner)');
    assert.equal(lifeOf(r.get('y') as InstanceRecord).restart, null);
    assert.equal(r.scheduleRestart('y', 0, p, 100), false, 'stopped by the user: no restart');
    assert.equal(r.scheduleRestart('y', 0, p, 0, true), true, 'except at boot, for always');
  } finally {
    close();
  }
});

test('health, pause and rename are recorded; a health checker of an earlier run writes nothing', () => {
  const { r, close } = open();
  try {
    r.insert(() => rec('z'));
    r.insert(() => ({ ...rec('w'), name: 'taken' }));
    r.markCreated('z', {});
    assert.equal(r.setPaused('z', true), false, 'only a running instance pauses');
    r.markRunning('z', {}, 'now', 'boot');
    assert.equal(r.setPaused('z', true), true);
    assert.equal(lifeOf(r.get('z') as InstanceRecord).paused, true);
    const h = { status: 'healthy' as const, failingStreak: 0, log: [], checker: null };
    assert.equal(r.setHealth('z', 0, h), true);
    assert.equal(r.setHealth('z', 7, { ...h, status: 'unhealthy' }), false);
    assert.equal(r.updateHealth('z', 7, () => ({ ...h, status: 'unhealthy' })), null);
    assert.equal(lifeOf(r.get('z') as InstanceRecord).health?.status, 'healthy');
    r.rename('z', 'fresh');
    assert.equal(r.get('z')?.name, 'fresh');
    assert.equal(r.get('z')?.spec.name, 'fresh');
    assert.throws(() => r.rename('z', 'taken'), /already in use/);
    r.markExited('z', 0, false, 'x', 0);
    assert.equal(lifeOf(r.get('z') as InstanceRecord).paused, false, 'an exit ends a pause');
  } finally {
    close();
  }
});

test('events are kept in order, read by time window and after a position, and trimmed to the newest', () => {
  const { ev, close } = open();
  try {
    ev.add('container', 'create', 'id1', { name: 'a' });
    ev.add('container', 'start', 'id1', { name: 'a' });
    const all = ev.list();
    assert.deepEqual(all.map((e) => e.action), ['create', 'start']);
    assert.ok((all[1]?.timeUs ?? 0) > (all[0]?.timeUs ?? 0));
    assert.deepEqual(ev.list({ afterSeq: all[0]?.seq }).map((e) => e.action), ['start']);
    assert.deepEqual(ev.list({ untilUs: all[0]?.timeUs }).map((e) => e.action), ['create']);
    assert.deepEqual(ev.list({ sinceUs: all[1]?.timeUs }).map((e) => e.action), ['start']);
    for (let i = 0; i < EVENTS_KEPT + 200; i++) ev.add('container', 'die', 'id1', {});
    assert.ok(ev.list().length <= EVENTS_KEPT + 100, 'older events are dropped');
    assert.equal(ev.lastSeq(), EVENTS_KEPT + 202);
  } finally {
    close();
  }
});
