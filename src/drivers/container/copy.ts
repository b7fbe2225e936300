import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IsolaError, isIsolaError, notFound } from '../../core/errors.js';
import type { PathKind } from '../../core/types.js';
import { cleanComponents, resolveDir } from '../../image/root-path.js';
import { extractInto } from '../../image/unpack.js';

/**
 * isola cp for containers, through the host's view of the container's root: /proc/PID/root of
 * its init, which shows its overlay with every mount it has (volumes included). Every path is
 * resolved inside that root as the unpacker resolves layer entries (root-path.ts): a symlink in
 * the container is followed inside the container, never out of it. The caller pauses the
 * container meanwhile (runc pause, as Docker does since CVE-2018-15664), so nothing in it can
 * swap a folder for a symlink between a check and a use.
 */
const MAX_LINKS = 40;

/** The host path of `p` inside `root`; with `follow`, a symlink at the end is followed (inside the root). Null when missing. */
export function resolveInside(root: string, p: string, follow: boolean): string | null {
  let parts = cleanComponents(p, p);
  for (let links = 0; ; links++) {
    if (parts.length === 0) return root;
    const name = parts[parts.length - 1] as string;
    let dir: string;
    try {
      dir = resolveDir(root, parts.slice(0, -1), p, { create: false });
    } catch (e) {
      if (isIsolaError(e, 'UNSAFE')) return null; // a folder on the way is missing or not a folder
      throw e;
    }
    const full = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(full);
    } catch {
      return null;
    }
    if (!follow || !st.isSymbolicLink()) return full;
    if (links >= MAX_LINKS) throw new IsolaError('UNSAFE', `${p}: more than ${MAX_LINKS} symlinks (a loop?)`, 'copy the link itself (leave out -L)');
    const target = fs.readlinkSync(full);
    const base = target.startsWith('/') ? [] : path.relative(root, dir).split('/').filter(Boolean);
    parts = cleanComponents(p, [...base, target].join('/'));
  }
}

export function kindOf(full: string | null): PathKind {
  if (full === null) return 'missing';
  const st = fs.lstatSync(full);
  return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/** A tar of `p` (its top entry named after p's last name) written to `out`. */
export async function tarOut(root: string, p: string, out: Writable, follow: boolean): Promise<void> {
  const full = resolveInside(root, p, follow);
  if (full === null) throw notFound(`no such file or folder in the instance: ${p}`, 'check the path (isola exec INSTANCE ls)');
  const top = cleanComponents(p, p).pop() ?? '.';
  const { create } = await import('tar');
  const cwd = full === root ? root : path.dirname(full);
  const entry = full === root ? '.' : path.basename(full);
  // The entry is named as the user named it (with -L, the link's name, as docker cp -L does).
  const pack = create({
    cwd, portable: false,
    onWriteEntry: (e) => {
      e.path = entry === '.' ? e.path : top + e.path.slice(entry.length);
    },
  }, [entry]);
  await pipeline(pack, out, { end: false });
}

/** Extracts `input` into the folder `dir` inside the root. */
export async function tarIn(root: string, dir: string, input: Readable, owner?: { uid: number; gid: number }): Promise<void> {
  const full = resolveInside(root, dir, true);
  if (full === null || !fs.lstatSync(full).isDirectory()) throw notFound(`no such folder in the instance: ${dir}`, 'copy into an existing folder');
  const rel = path.relative(root, full);
  await extractInto(input, root, {
    rename: (e) => path.posix.join(rel, e),
    ...(owner ? { owner } : {}),
  });
}
