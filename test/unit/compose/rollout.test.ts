import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planRollout, runRollout, RolloutFailure, type RolloutOps } from '../../../src/compose/rollout.js';
import { openDb } from '../../../src/state/db.js';
import { RevisionRepo } from '../../../src/state/revisions.js';

/** Ops that log what they are asked, and fail waitReady for the numbers given. */
function fakeOps(failAt: ReadonlySet<number> = new Set()) {
  const log: string[] = [];
  const ops: RolloutOps = {
    asideOld: async (n) => void log.push(`aside ${n}`),
    startNew: async (n) => void log.push(`start ${n}`),
    waitReady: async (n) => {
      log.push(`wait ${n}`);
      if (failAt.has(n)) throw new RolloutFailure(n, 'became unhealthy');
    },
    stopOld: async (n) => void log.push(`stop ${n}`),
    removeNew: async (n) => void log.push(`remove-new ${n}`),
    restoreOld: async (n, stopped) => void log.push(`restore ${n}${stopped ? ' +start' : ''}`),
    removeOld: async (n) => void log.push(`remove-old ${n}`),
  };
  return { log, ops };
}

test('rollout plan: replica order, parallelism per batch, new numbers made in their batch', () => {
  assert.deepEqual(planRollout([3, 1, 2], [], 1), [{ replace: [1], create: [] }, { replace: [2], create: [] }, { replace: [3], create: [] }]);
  assert.deepEqual(planRollout([1, 2, 3], [], 2), [{ replace: [1, 2], create: [] }, { replace: [3], create: [] }]);
  assert.deepEqual(planRollout([1, 2], [3], 2), [{ replace: [1, 2], create: [] }, { replace: [], create: [3] }]);
  assert.deepEqual(planRollout([1], [], 0), [{ replace: [1], create: [] }], 'parallelism below 1 is 1');
  assert.deepEqual(planRollout([], [], 1), []);
});

test('rollout: each new replica ready before an old one stops; old ones removed only at commit', async () => {
  const { log, ops } = fakeOps();
  const done = await runRollout(planRollout([1, 2], [], 1), ops);
  assert.deepEqual(log, ['aside 1', 'start 1', 'wait 1', 'stop 1', 'aside 2', 'start 2', 'wait 2', 'stop 2']);
  log.length = 0;
  for (const c of done.commit) await c();
  assert.deepEqual(log, ['remove-old 1', 'remove-old 2']);
  // A later service of the same up failed: the caller runs the undo, newest first.
  log.length = 0;
  for (const u of [...done.undo].reverse()) await u();
  assert.deepEqual(log, ['remove-new 2', 'restore 2 +start', 'remove-new 1', 'restore 1 +start']);
});

test('rollout with parallelism 2: a batch starts both, waits for both, then stops both', async () => {
  const { log, ops } = fakeOps();
  await runRollout(planRollout([1, 2, 3], [], 2), ops);
  assert.deepEqual(log, ['aside 1', 'start 1', 'aside 2', 'start 2', 'wait 1', 'wait 2', 'stop 1', 'stop 2', 'aside 3', 'start 3', 'wait 3', 'stop 3']);
});

test('rollout failure: it stops, every new replica is removed and the old ones come back (restarted where stopped)', async () => {
  const { log, ops } = fakeOps(new Set([2]));
  await assert.rejects(runRollout(planRollout([1, 2, 3], [], 1), ops), (e: unknown) => e instanceof RolloutFailure && e.replica === 2 && /unhealthy/.test(e.message));
  assert.deepEqual(log, [
    'aside 1', 'start 1', 'wait 1', 'stop 1',
    'aside 2', 'start 2', 'wait 2',
    // undo, newest first: replica 2's old one was never stopped, replica 1's was.
    'remove-new 2', 'restore 2', 'remove-new 1', 'restore 1 +start',
  ]);
  assert.ok(!log.includes('aside 3'), 'the rollout stops at the failed replica');
  assert.ok(!log.some((l) => l.startsWith('remove-old')), 'no old replica is removed');
});

test('revisions: one row per change, the same configuration twice is one revision', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-revisions-'));
  const db = openDb(path.join(dir, 'isola.db'));
  try {
    const repo = new RevisionRepo(db);
    const rev = (hash: string, digest: string) => ({ project: 'p', service: 'web', imageRef: 'app:1', imageDigest: digest, configHash: hash, serviceJson: '{}' });
    assert.equal(repo.record(rev('h1', 'sha256:a')).seq, 1);
    assert.equal(repo.record(rev('h1', 'sha256:a')).seq, 1);
    assert.equal(repo.record(rev('h2', 'sha256:b')).seq, 2);
    assert.equal(repo.record(rev('h1', 'sha256:a')).seq, 3, 'going back is a new revision');
    assert.deepEqual(repo.list('p', 'web').map((r) => [r.seq, r.imageDigest]), [[1, 'sha256:a'], [2, 'sha256:b'], [3, 'sha256:a']]);
    assert.deepEqual(repo.list('p', 'db'), []);
    assert.equal(repo.latest('p', 'web')?.configHash, 'h1');
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
