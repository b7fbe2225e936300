import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { withLock } from '../../src/util/lock.js';
import { runCmd } from './fixture.js';

/**
 * A test image that looks like a real one: Debian 12 made by `debootstrap --variant=minbase`
 * with a few packages, as a root file system tarball for `isola import`. Building it takes about
 * 45 s and a few hundred MB of downloads, so it is cached outside the checkout, in
 * /var/cache/isola-test, under a name that covers every input; a second run only reads it.
 */
const CACHE = '/var/cache/isola-test';
const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';

export async function debianRootfs(include: string[]): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify({ SUITE, MIRROR, variant: 'minbase', include: [...include].sort(), layout: 1 })).digest('hex').slice(0, 16);
  const tarball = path.join(CACHE, `debian-${SUITE}-${key}.tar`);
  if (fs.existsSync(tarball)) return tarball;
  fs.mkdirSync(CACHE, { recursive: true, mode: 0o700 });
  return withLock(`${tarball}.lock`, async () => {
    if (fs.existsSync(tarball)) return tarball;
    const tree = path.join(CACHE, `.build-${process.pid}-${key}`);
    try {
      const r = await runCmd('debootstrap', ['--variant=minbase', `--include=${include.join(',')}`, SUITE, tree, MIRROR], { timeoutMs: 600_000 });
      if (r.code !== 0) throw new Error(`debootstrap failed (${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
      // What an image leaves out: the package cache and lists (apt-get update fetches them again).
      for (const p of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
        for (const f of fs.readdirSync(path.join(tree, p))) if (f.endsWith('.deb') || !['partial', 'lock', 'auxfiles'].includes(f)) fs.rmSync(path.join(tree, p, f), { recursive: true, force: true });
      }
      const tmp = `${tarball}.${process.pid}.tmp`;
      const t = await runCmd('tar', ['--numeric-owner', '-C', tree, '-cf', tmp, '.'], { timeoutMs: 300_000 });
      if (t.code !== 0) throw new Error(`tar failed: ${t.stderr.trim()}`);
      fs.renameSync(tmp, tarball);
      return tarball;
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });
}
