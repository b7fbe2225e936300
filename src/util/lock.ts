import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IsolaError } from '../core/errors.js';
import { processAlive, processRef, type ProcessRef } from './process.js';

/**
 * isola's one lock policy, for every cross-process lock (image index, cache builds, downloads):
 *
 * - a lock is a folder made with mkdir (atomic), holding an `owner` file: the holder's pid,
 *   start time and boot id;
 * - it is stale exactly when its owner is no longer that process (dead, pid reused, rebooted):
 *   never by age, so a long build is never broken into while it runs;
 * - a waiter waits until `timeoutMs` (default 10 minutes, longer than any holder's work), then
 *   fails with a TIMEOUT that names the holder.
 *
 * The only age that counts is the instant between mkdir and the owner file being written: a
 * folder without an owner for more than OWNERLESS_MS was left by a process killed in between.
 */
const OWNERLESS_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

function readOwner(dir: string): ProcessRef | null | 'none' {
  try {
    const [pid, startTime, bootId] = fs.readFileSync(path.join(dir, 'owner'), 'utf8').trim().split(' ');
    return { pid: Number(pid), startTime: Number(startTime), bootId: bootId ?? '' };
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : null;
  }
}

/** One attempt: true when taken. Breaks the lock first when its owner is gone. */
function tryTake(dir: string, me: ProcessRef): boolean {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const owner = readOwner(dir);
    let stale = false;
    if (owner === 'none') {
      try {
        stale = Date.now() - fs.statSync(dir).mtimeMs > OWNERLESS_MS;
      } catch {
        return false; // released meanwhile: try again
      }
    } else if (owner) stale = !processAlive(owner);
    if (stale) fs.rmSync(dir, { recursive: true, force: true });
    return false;
  }
  fs.writeFileSync(path.join(dir, 'owner'), `${me.pid} ${me.startTime} ${me.bootId}\n`);
  return true;
}

/** Whether a lock folder is held by a live process (a lock whose owner is gone is not held). */
export function lockHeld(dir: string): boolean {
  const owner = readOwner(dir);
  if (owner === 'none') {
    try {
      return Date.now() - fs.statSync(dir).mtimeMs <= OWNERLESS_MS;
    } catch {
      return false;
    }
  }
  return owner !== null && processAlive(owner);
}

function self(): ProcessRef {
  const me = processRef(process.pid);
  if (!me) throw new IsolaError('INTERNAL', 'cannot read this process\'s own /proc entry', 'check that /proc is mounted');
  return me;
}

function timedOut(dir: string, timeoutMs: number): IsolaError {
  const owner = readOwner(dir);
  const who = owner && owner !== 'none' ? `process ${owner.pid}` : 'another process';
  return new IsolaError('TIMEOUT', `${who} held the lock ${dir} for more than ${Math.round(timeoutMs / 1000)} s`, 'wait for it to finish, or stop it');
}

/**
 * One attempt at the lock, without waiting: a function that releases it when taken, null when
 * a live process holds it (a lock whose owner is gone is broken and taken at the next attempt).
 * For a caller that picks any free one of several locks (the VM agent's ports).
 */
export function tryLock(dir: string): (() => void) | null {
  const me = self();
  if (!tryTake(dir, me) && !tryTake(dir, me)) return null;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}

export async function withLock<T>(dir: string, fn: () => Promise<T> | T, opts: { timeoutMs?: number } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const me = self();
  for (let delay = 2; !tryTake(dir, me); delay = Math.min(delay * 2, 100)) {
    if (Date.now() > deadline) throw timedOut(dir, timeoutMs);
    await sleep(delay);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The same lock for a short synchronous section (a few file operations), waiting synchronously. */
export function withLockSync<T>(dir: string, fn: () => T, opts: { timeoutMs?: number } = {}): T {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const me = self();
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let delay = 1; !tryTake(dir, me); delay = Math.min(delay * 2, 50)) {
    if (Date.now() > deadline) throw timedOut(dir, timeoutMs);
    Atomics.wait(pause, 0, 0, delay);
  }
  try {
    return fn();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
