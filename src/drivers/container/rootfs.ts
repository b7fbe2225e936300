import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ResolvedImage } from '../../core/types.js';
import type { CacheLayout } from '../../core/cache-layout.js';
import { unpackImage, type UnpackLimits } from '../../image/unpack.js';
import { run, runOk } from '../../util/exec.js';

/**
 * The image unpacked once per digest into the cache; every container of that image mounts it
 * as the read-only lower layer of its own overlay, so creating a container copies nothing.
 */
export async function ensureUnpacked(image: ResolvedImage, cache: CacheLayout, limits: UnpackLimits = {}): Promise<string> {
  const dir = cache.rootfs(image.digest);
  if (fs.existsSync(dir)) return dir;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = cache.scratch('rootfs', randomBytes(4).toString('hex'));
  try {
    await unpackImage(image, tmp, limits);
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // Another isola process unpacked the same image meanwhile: use theirs.
      if (!fs.existsSync(dir)) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

export async function mountOverlay(lower: string, upper: string, work: string, target: string): Promise<void> {
  for (const d of [upper, work, target]) fs.mkdirSync(d, { recursive: true });
  await runOk('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target]);
}

export function isMounted(target: string): boolean {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[1] === target);
}

/** Idempotent. Lazy unmount: a process still holding a file in it must not keep the mount alive. */
export async function unmount(target: string): Promise<void> {
  if (isMounted(target)) await run('umount', ['-l', target]);
}
