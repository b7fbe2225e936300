import fs from 'node:fs';
import path from 'node:path';
import { IsolaError } from '../core/errors.js';

/**
 * Paths of a layer entry, resolved the way containerd and runc resolve them (securejoin): inside
 * a root, as if the root were `/`. A symlink met on the way is followed *inside* the root (an
 * absolute target starts again at the root, `..` stops at the root), so a later layer that
 * writes through merged /usr (`lib -> usr/lib`) lands in `usr/lib` and nothing can leave the
 * root. The last component is never followed: the caller replaces whatever is there.
 */

/** Linux's limits: a name of at most 255 bytes, a path of at most 4095. */
export const NAME_MAX = 255;
export const PATH_MAX = 4095;
/** As the kernel's MAXSYMLINKS (40) leaves room for real images; more is a loop or an attack. */
const MAX_LINKS = 255;

export function unsafe(entry: string, why: string): IsolaError {
  return new IsolaError('UNSAFE', `refused layer entry "${entry.slice(0, 200)}": ${why}`, 'the archive tries to reach outside its root; rebuild it with paths inside the root file system');
}

/**
 * The entry's path as components, cleaned lexically as `filepath.Clean` would (`.` and empty
 * parts dropped, `a/..` cancelled); a leading `/` means the root, as in Docker's unpacker. A
 * `..` that would climb above the root is refused: no legitimate layer needs it.
 */
export function cleanComponents(entry: string, p: string): string[] {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw unsafe(entry, '".." climbs above the root');
      out.pop();
      continue;
    }
    if (Buffer.byteLength(c) > NAME_MAX) throw unsafe(entry, `a path component is longer than ${NAME_MAX} bytes`);
    out.push(c);
  }
  return out;
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

export interface ResolveOptions {
  /** Create missing directories on the way (owned by root, 0755), replacing a non-directory. */
  create: boolean;
  /** Called with each directory created, so an opaque whiteout can tell this layer's from lower ones. */
  onCreate?: (dir: string) => void;
}

/**
 * The real directory, inside `root`, that the components `dirs` name: every symlink on the way
 * followed inside the root. `root` must itself be a real directory path (no symlinks in it).
 */
export function resolveDir(root: string, dirs: string[], entry: string, opts: ResolveOptions): string {
  const stack: string[] = []; // resolved components below root
  const todo = [...dirs];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      stack.pop(); // at the root, `..` is the root
      continue;
    }
    const here = path.join(root, ...stack, c);
    if (here.length > PATH_MAX) throw unsafe(entry, `the path is longer than ${PATH_MAX} bytes`);
    const st = lstat(here);
    if (st?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw unsafe(entry, `more than ${MAX_LINKS} symlinks on the way (a loop?)`);
      const target = fs.readlinkSync(here);
      if (target.startsWith('/')) stack.length = 0;
      todo.unshift(...target.split('/'));
      continue;
    }
    if (st && !st.isDirectory()) {
      if (!opts.create) throw unsafe(entry, `"${path.join(...stack, c)}" is not a directory`);
      fs.rmSync(here, { force: true });
    }
    if (!st || !st.isDirectory()) {
      if (!opts.create) throw unsafe(entry, `"${path.join(...stack, c)}" does not exist`);
      fs.mkdirSync(here, { mode: 0o755 });
      opts.onCreate?.(here);
    }
    stack.push(c);
  }
  return path.join(root, ...stack);
}

/**
 * Where an entry goes: its parent resolved inside the root, and its own last name, which is not
 * followed. Null for the root itself (an entry `./` or `a/..`).
 */
export function resolveEntry(root: string, entryPath: string, opts: ResolveOptions): { dir: string; name: string; full: string } | null {
  const parts = cleanComponents(entryPath, entryPath);
  const name = parts.pop();
  if (name === undefined) return null;
  const dir = resolveDir(root, parts, entryPath, opts);
  const full = path.join(dir, name);
  if (full.length > PATH_MAX) throw unsafe(entryPath, `the path is longer than ${PATH_MAX} bytes`);
  return { dir, name, full };
}
