import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { IsolaError } from '../core/errors.js';
import { run } from '../util/exec.js';
import { withLock } from '../util/lock.js';
import { processAlive } from '../util/process.js';

/**
 * A whole Debian system as a root file system tarball, made by `debootstrap --variant=minbase`
 * with the packages asked for (for a bootable OS: systemd, udev and a kernel package), for
 * `isola import`. Building one takes a minute or two and a few hundred MB of downloads, so the
 * tarball is cached in a folder the caller names (compare: the assets folder; the tests their own)
 * under a name that covers every input; later calls only read it.
 *
 * Crash safety: the build runs in a folder named after the building process, under the cache's
 * lock (a lock whose holder died is free again); a later call removes what a dead builder left.
 */
export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export interface DebianRootfsRequest {
  /** Where tarballs are cached (made if missing, mode 0700). */
  cacheDir: string;
  /** Packages beyond minbase. */
  include: string[];
  /** One line per step, for a progress display. */
  onStep?: (line: string) => void;
  /** Ends debootstrap after this long (default 15 minutes). */
  timeoutMs?: number;
  /** Ends debootstrap when aborted (Ctrl-C reaches it too: it stays in the caller's process group). */
  signal?: AbortSignal;
}

/** The cache key: every input that changes the tarball. Kept stable so existing caches stay valid. */
export function debianRootfsKey(include: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify({ SUITE: DEBIAN_SUITE, MIRROR: DEBIAN_MIRROR, variant: 'minbase', include: [...include].sort(), layout: 1 })).digest('hex').slice(0, 16);
}

export function debianRootfsPath(cacheDir: string, include: readonly string[]): string {
  return path.join(cacheDir, `debian-${DEBIAN_SUITE}-${debianRootfsKey(include)}.tar`);
}

/** Build folders whose builder is gone (a crash, a kill -9). */
function removeStrays(cacheDir: string): void {
  for (const name of fs.readdirSync(cacheDir)) {
    const m = /^\.build-(\d+)-/.exec(name) ?? /\.(\d+)\.tmp$/.exec(name);
    if (m && !processAlive(Number(m[1]))) fs.rmSync(path.join(cacheDir, name), { recursive: true, force: true });
  }
}

/** The tarball's path; builds it first when it is not cached. Resolves with whether it was built now. */
export async function debianRootfs(r: DebianRootfsRequest): Promise<{ tarball: string; built: boolean; ms: number }> {
  const t0 = performance.now();
  const tarball = debianRootfsPath(r.cacheDir, r.include);
  if (fs.existsSync(tarball)) return { tarball, built: false, ms: 0 };
  fs.mkdirSync(r.cacheDir, { recursive: true, mode: 0o700 });
  const step = r.onStep ?? (() => undefined);
  return withLock(`${tarball}.lock`, async () => {
    if (fs.existsSync(tarball)) return { tarball, built: false, ms: performance.now() - t0 };
    removeStrays(r.cacheDir);
    const key = debianRootfsKey(r.include);
    const tree = path.join(r.cacheDir, `.build-${process.pid}-${key}`);
    try {
      step(`building a Debian ${DEBIAN_SUITE} system once with debootstrap (minbase + ${r.include.join(', ')}), cached in ${r.cacheDir}`);
      const d = await run('debootstrap', ['--variant=minbase', `--include=${r.include.join(',')}`, DEBIAN_SUITE, tree, DEBIAN_MIRROR], { timeoutMs: r.timeoutMs ?? 900_000, ...(r.signal ? { signal: r.signal } : {}) }).catch((e: Error) => {
        if (r.signal?.aborted) throw e;
        throw new IsolaError('UNAVAILABLE', `cannot run debootstrap: ${e.message}`, 'install Debian\'s debootstrap package (npm run bootstrap does)');
      });
      if (d.code !== 0) {
        const tail = `${d.stderr}\n${d.stdout}`.trim().split('\n').slice(-3).join(' ');
        throw new IsolaError('UNAVAILABLE', `debootstrap could not build the Debian system (${d.timedOut ? 'timed out' : `exit ${d.code}`}): ${tail}`, `check that ${DEBIAN_MIRROR} is reachable from this host`);
      }
      // What an image leaves out: the package cache and lists (apt-get update fetches them again).
      for (const p of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
        const dir = path.join(tree, p);
        if (!fs.existsSync(dir)) continue;
        for (const f of fs.readdirSync(dir)) if (f.endsWith('.deb') || !['partial', 'lock', 'auxfiles'].includes(f)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
      }
      step('packing the Debian system as a tarball');
      const tmp = `${tarball}.${process.pid}.tmp`;
      const t = await run('tar', ['--numeric-owner', '-C', tree, '-cf', tmp, '.'], { timeoutMs: 300_000 });
      if (t.code !== 0) {
        fs.rmSync(tmp, { force: true });
        throw new IsolaError('INTERNAL', `tar could not pack the Debian system: ${t.stderr.trim()}`, `check free space in ${r.cacheDir}`);
      }
      fs.renameSync(tmp, tarball);
      return { tarball, built: true, ms: performance.now() - t0 };
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  }, { timeoutMs: (r.timeoutMs ?? 900_000) + 360_000 });
}
