import { spawn } from 'node:child_process';

/**
 * One test file at a time on the host's shared objects (the isola0 bridge, its nftables table,
 * default-bridge addresses, cgroups), while files that start nothing run beside it.
 *
 * `npm test` runs test files with a concurrency of 3 and sets ISOLA_SUITE_LOCK to a lock file of
 * its own. A file that starts instances (every integration and contract file, and any file that
 * makes a fixture) takes that lock before its first test and keeps it until its process ends; a
 * pure unit file never asks, so it runs on the second core meanwhile. Without the variable (one
 * file run by hand) this does nothing.
 *
 * The lock is flock(1)'s: a child `flock` holds it while it reads our pipe, and our end of the
 * pipe closes when this process ends in any way (a crash, a kill, process.exit), so the lock can
 * never outlive the file that holds it.
 */
const HELD = Symbol.for('isola.test.suiteLock');

export function holdSuiteLock(): Promise<void> {
  const file = process.env.ISOLA_SUITE_LOCK;
  if (!file) return Promise.resolve();
  const g = globalThis as { [HELD]?: Promise<void> };
  g[HELD] ??= new Promise<void>((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock ${file} ended (${code}) before it took the lock`)));
    child.stdout.once('data', () => {
      child.removeAllListeners('exit');
      // Neither the holder nor its pipes keep this process alive: its end releases the lock.
      child.stdout.destroy();
      child.unref();
      (child.stdin as unknown as { unref(): void }).unref();
      resolve();
    });
  });
  return g[HELD];
}
