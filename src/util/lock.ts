import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

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
