import fs from 'node:fs';
import { IsolaError } from '../core/errors.js';
import { allocatedBytes } from '../util/fsx.js';
import { run } from '../util/exec.js';

/**
 * A folder made into an ext4 file system image with `mkfs.ext4 -d`: no loop mount, no root-only
 * kernel feature. Every guest disk isola makes goes through here: the VM and hybrid root disks
 * and the root partition of an exported whole disk.
 */
const FREE_SPACE = 512 * 1024 * 1024; // room for the workload's writes, sparse until used

/** The ext4 size for a tree of `used` bytes: the tree, ext4's own metadata, and free space. */
export function ext4SizeBytes(used: number, free = FREE_SPACE): number {
  const mib = 1024 * 1024;
  return Math.ceil((used * 1.2 + 64 * mib + free) / mib) * mib;
}

/** Writes `file` (replacing it) as an ext4 image of `tree`, labelled `label`; returns its size. */
export async function makeExt4(tree: string, file: string, label: string, what: string, free = FREE_SPACE): Promise<number> {
  const size = ext4SizeBytes(allocatedBytes(tree), free);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  // A small journal (4 MiB): isola's base disks are never written, each overlay is private.
  const r = await run('mkfs.ext4', ['-q', '-F', '-L', label, '-J', 'size=4', '-E', 'root_owner=0:0', '-d', tree, file]).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.code !== 0) throw new IsolaError('UNAVAILABLE', `mkfs.ext4 could not build ${what}: ${r.stderr.trim()}`, 'install e2fsprogs 1.43 or newer (mkfs.ext4 -d); npm run bootstrap does');
  return size;
}
