import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from './process.js';

/**
 * A cross-process lock made from an atomic mkdir. Image index updates are rare and short, so
 * a polling lock is enough; a lock older than `staleMs` was left by a crashed process and is
 * broken.
 */
export async function withDirLock<T>(lockDir: string, fn: () => Promise<T> | T, staleMs = 30_000): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > staleMs) fs.rmSync(lockDir, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockDir}`, { cause: e });
      await sleep(delay);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * A cross-process lock held for as long as a task takes (a download of minutes): a file created
 * exclusively with the holder's pid in it. A holder that died leaves a file whose pid is not
 * alive, and the next taker breaks it; waiting on a live holder has no deadline short of `maxWaitMs`.
 */
export async function withPidLock<T>(file: string, fn: () => Promise<T>, maxWaitMs = 30 * 60_000): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder: number;
      try {
        holder = Number(fs.readFileSync(file, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      // An empty file is a holder between create and write: give it a moment, like a live one.
      if (holder > 0 && holder !== process.pid && !processAlive(holder)) {
        fs.rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${file} held by pid ${holder}`, { cause: e });
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}
