import fs from 'node:fs';
import path from 'node:path';
import { IsolaError } from '../../core/errors.js';
import { run } from '../../util/exec.js';
import { allocatedBytes } from '../../util/fsx.js';

/**
 * A container's snapshot: a copy of its overlay upper directory, made by `cp -a` (owners, modes,
 * times, hard links, overlayfs's whiteout devices and its trusted.* xattrs, which only root
 * can read and write: opaque folders and redirects), reflinked where the file system can.
 * Restore puts the copy back in place of the upper directory, so the container's root is
 * exactly what it was, deletions included.
 */
async function copyTree(from: string, to: string): Promise<void> {
  const r = await run('cp', ['-a', '--reflink=auto', '--', from, to]);
  if (r.code !== 0) throw new IsolaError('INTERNAL', `copying ${from} to ${to} failed: ${r.stderr.trim().split('\n')[0] ?? ''}`, 'check the free space of the data root (isola system df)');
}

/** Copies `upper` into `<dir>/upper`; resolves with the bytes the copy takes. */
export async function keepUpper(upper: string, dir: string): Promise<number> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  await copyTree(upper, path.join(dir, 'upper'));
  return allocatedBytes(dir);
}

/**
 * Replaces `upper` by the kept copy, and empties overlayfs's work folder (the overlay is not
 * mounted now). The copy goes to a scratch name beside `upper` first, then two renames swap it in,
 * so a crash leaves either the old upper or the restored one, never half of each.
 */
export async function restoreUpper(upper: string, work: string, dir: string): Promise<void> {
  const kept = path.join(dir, 'upper');
  if (!fs.existsSync(kept)) throw new IsolaError('CORRUPT', `the snapshot's copy (${kept}) is missing`, 'remove the snapshot (isola snapshot rm) and take a new one');
  const incoming = `${upper}.restore-${process.pid}`;
  const outgoing = `${upper}.old-${process.pid}`;
  fs.rmSync(incoming, { recursive: true, force: true });
  await copyTree(kept, incoming);
  fs.renameSync(upper, outgoing);
  fs.renameSync(incoming, upper);
  fs.rmSync(outgoing, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
}
