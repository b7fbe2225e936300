import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { withLock, withLockSync } from '../../../src/util/lock.js';
import { processRef, processAlive, currentBootId } from '../../../src/util/process.js';
import { isIsolaError } from '../../../src/core/errors.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'isola-lock-'));
}

test('a lock whose owner died is broken at once, whatever its age', async () => {
  const dir = tmp();
  try {
    const lock = path.join(dir, 'x.lock');
    fs.mkdirSync(lock);
    // A process that existed and is gone: a child that has exited.
    const child = spawn('true');
    const ref = processRef(child.pid);
    await new Promise((r) => child.on('close', r));
    fs.writeFileSync(path.join(lock, 'owner'), `${ref?.pid ?? 999999} ${ref?.startTime ?? 1} ${currentBootId()}\n`);
    const t0 = Date.now();
    assert.equal(await withLock(lock, () => 'taken', { timeoutMs: 2000 }), 'taken');
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(fs.existsSync(lock), false, 'released');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock whose owner lives is waited for, however old, and the timeout names the holder', async () => {
  const dir = tmp();
  try {
    const lock = path.join(dir, 'x.lock');
    fs.mkdirSync(lock);
    const me = processRef(process.pid);
    fs.writeFileSync(path.join(lock, 'owner'), `${me?.pid} ${me?.startTime} ${me?.bootId}\n`);
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(lock, old, old);
    await assert.rejects(withLock(lock, () => 'never', { timeoutMs: 300 }), (e) => isIsolaError(e, 'TIMEOUT') && new RegExp(`process ${process.pid} held the lock`).test(e.message));
    assert.throws(() => withLockSync(lock, () => 'never', { timeoutMs: 200 }), (e) => isIsolaError(e, 'TIMEOUT'));
    assert.ok(fs.existsSync(lock), 'a live owner\'s lock is never broken');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a recycled pid is not the recorded process: start time and boot id are checked', () => {
  const me = processRef(process.pid);
  assert.ok(me && processAlive(me));
  assert.equal(processAlive({ ...me, startTime: me.startTime + 1 }), false, 'same pid, another start time');
  assert.equal(processAlive({ ...me, bootId: 'another-boot' }), false, 'same pid, another boot');
});

test('two holders never overlap', async () => {
  const dir = tmp();
  try {
    const lock = path.join(dir, 'x.lock');
    let inside = 0;
    let max = 0;
    await Promise.all(Array.from({ length: 8 }, () => withLock(lock, async () => {
      max = Math.max(max, ++inside);
      await new Promise((r) => setTimeout(r, 5));
      inside--;
    })));
    assert.equal(max, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
