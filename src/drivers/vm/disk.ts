import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ResolvedImage } from '../../core/types.js';
import type { Config } from '../../core/config.js';
import type { CacheEntryKind, CacheLayout } from '../../core/cache-layout.js';
import { IsolaError } from '../../core/errors.js';
import { unpackImage, type UnpackLimits } from '../../image/unpack.js';
import { makeExt4 } from '../../guest/ext4.js';
import { allocatedBytes } from '../../util/fsx.js';
import { withLock } from '../../util/lock.js';
import { run } from '../../util/exec.js';
import { findQemuImg } from './accel.js';

/**
 * Root disks. The image's layers become one ext4 file per image digest (mkfs.ext4 -d: no loop
 * mount, no root-only kernel feature), cached where the cache layout says and never
 * written again; each instance boots from its own qcow2 overlay on top, so a new instance
 * costs one small file.
 */
/**
 * Builds an ext4 disk at `disk` (once; concurrent callers wait for the first) from a tree that
 * `fill` writes into an empty scratch folder. The disk appears under its name only when whole.
 */
export async function buildExt4Once(cache: CacheLayout, kind: CacheEntryKind, disk: string, label: string, what: string, fill: (tree: string) => Promise<void>): Promise<string> {
  if (fs.existsSync(disk)) return disk;
  fs.mkdirSync(path.dirname(disk), { recursive: true });
  return withLock(cache.lock(disk), async () => {
    if (fs.existsSync(disk)) return disk;
    const tag = randomBytes(4).toString('hex');
    const tree = cache.scratch(kind, `${tag}.tree`);
    const tmp = cache.scratch(kind, `${tag}.ext4`);
    try {
      await fill(tree);
      await makeExt4(tree, tmp, label, what);
      fs.renameSync(tmp, disk);
      return disk;
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
      fs.rmSync(tmp, { force: true });
    }
  });
}

/** The image's root disk: its layers unpacked into an ext4 file. */
export function ensureBaseDisk(image: ResolvedImage, cache: CacheLayout, limits: UnpackLimits = {}): Promise<string> {
  return buildExt4Once(cache, 'vm-disk', cache.vmDisk(image.digest), 'isola-root', `the root disk of ${image.ref}`, async (tree) => {
    await unpackImage(image, tree, limits);
  });
}

/** `baseFormat`: raw for an image's ext4 root, qcow2 for a whole-disk image's disk. */
export async function createOverlay(config: Config, base: string, overlay: string, baseFormat: 'raw' | 'qcow2' = 'raw'): Promise<void> {
  const r = await run(findQemuImg(config), ['create', '-q', '-f', 'qcow2', '-b', base, '-F', baseFormat, overlay]);
  if (r.code !== 0) throw new IsolaError('INTERNAL', `qemu-img could not create the instance disk: ${r.stderr.trim()}`, 'check free space under the data root');
}

export interface DiskUsage {
  /** Allocated bytes of the shared ext4 base for this image (counted once per image). */
  imageBytes: number;
  /** Allocated bytes of this instance's qcow2 overlay: what the instance itself costs. */
  instanceBytes: number;
  /** The size the guest sees. */
  virtualBytes: number;
}

export function diskUsage(base: string, overlay: string): DiskUsage {
  let virtualBytes = 0;
  try {
    virtualBytes = fs.statSync(base).size;
  } catch {
    /* gone */
  }
  return { imageBytes: allocatedBytes(base), instanceBytes: allocatedBytes(overlay), virtualBytes };
}
