import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ReadEntry } from 'tar';
import { IsolaError } from '../core/errors.js';
import type { ResolvedImage } from '../core/types.js';
import { sha256File } from './digest.js';
import { openUncompressed } from './compression.js';

/**
 * The one function that unpacks OCI layers, for import, pull, build, container root file
 * systems and VM root disks alike. Every entry's path is checked before anything is written:
 * nothing outside `target` is ever created or changed.
 *
 * Refused (an UNSAFE error naming the entry): absolute paths, `..` components, writes through
 * a symlink (placed by this or an earlier layer), hard links whose target is outside or missing.
 * Neutralised (skipped and counted): device nodes and FIFOs, unless allowDevices, because a
 * container gets its /dev from the runtime and a VM from devtmpfs.
 */
export interface UnpackOptions {
  /** Check each layer's sha256 against this digest before unpacking it. */
  expectedDigests?: string[];
  allowDevices?: boolean;
}

export interface UnpackReport {
  entries: number;
  skippedSpecial: string[];
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

export async function unpackImage(image: ResolvedImage, target: string): Promise<UnpackReport> {
  return unpackLayers(image.layers, target, { expectedDigests: image.layerDigests });
}

export async function unpackLayers(layers: string[], target: string, opts: UnpackOptions = {}): Promise<UnpackReport> {
  fs.mkdirSync(target, { recursive: true });
  const report: UnpackReport = { entries: 0, skippedSpecial: [] };
  for (const [i, layer] of layers.entries()) {
    const expected = opts.expectedDigests?.[i];
    if (expected) {
      const actual = await sha256File(layer).catch(() => 'missing');
      if (actual !== expected) {
        throw new IsolaError('CORRUPT', `layer ${expected.slice(0, 19)} does not match its digest (${actual === 'missing' ? 'file missing' : `found ${actual.slice(0, 19)}`})`, 'remove the image (isola rmi) and add it again');
      }
    }
    await applyLayer(layer, path.resolve(target), opts, report);
  }
  return report;
}

function unsafe(entry: string, why: string): IsolaError {
  return new IsolaError('UNSAFE', `refused layer entry "${entry}": ${why}`, 'the archive tries to write outside its root; rebuild it with relative paths inside the root file system');
}

/** Splits an archive path into safe components, refusing anything that could climb out. */
export function safeComponents(p: string): string[] {
  if (p.startsWith('/')) throw unsafe(p, 'absolute path');
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw unsafe(p, '".." path component');
  return parts;
}

/**
 * Makes sure every directory on the way to `parts` (exclusive of the last) is a real directory
 * inside root, creating missing ones; a symlink on the way is refused, because writing through
 * it would land wherever it points.
 */
function ensureParents(root: string, parts: string[], entry: string, created: Set<string>, create: boolean): string {
  let cur = root;
  for (const c of parts.slice(0, -1)) {
    cur = path.join(cur, c);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(cur);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) throw unsafe(entry, `"${path.relative(root, cur)}" is a symlink, and writing through it could leave the root`);
    if (st && !st.isDirectory()) {
      if (!create) throw unsafe(entry, `"${path.relative(root, cur)}" is not a directory`);
      fs.rmSync(cur, { force: true });
      st = undefined;
    }
    if (!st) {
      if (!create) throw unsafe(entry, `"${path.relative(root, cur)}" does not exist`);
      fs.mkdirSync(cur, { mode: 0o755 });
      created.add(cur);
    }
  }
  return path.join(cur, parts[parts.length - 1] ?? '');
}

async function applyLayer(layer: string, root: string, opts: UnpackOptions, report: UnpackReport): Promise<void> {
  // Paths written by this layer: an opaque whiteout hides lower layers' entries, not these.
  const created = new Set<string>();
  // Loaded on first use: starting an instance of an already unpacked image needs no tar code.
  const { Parser } = await import('tar');
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  const parser = new Parser({
    // node-tar reports a damaged archive as a warning and carries on; for a layer it is fatal.
    onwarn: (code: string, message: string) => {
      if (/TAR_BAD_ARCHIVE|TAR_ENTRY_INVALID|TAR_ABORT|ZLIB/.test(code)) {
        failure ??= new IsolaError('CORRUPT', `layer ${path.basename(layer).slice(0, 12)} is not a readable tar archive: ${message}`, 'check the file, or rebuild it with tar');
      }
    },
    onReadEntry: (entry: ReadEntry) => {
      // Entries are handled strictly in order; the parser stalls until each one is consumed.
      chain = chain.then(async () => {
        if (failure) return void entry.resume();
        try {
          await applyEntry(entry, root, opts, created, report);
        } catch (e) {
          failure = e;
          entry.resume();
        }
      });
    },
  });
  try {
    await pipeline(await openUncompressed(layer), parser);
  } catch (e) {
    await chain;
    if (failure) throw failure;
    if (e instanceof IsolaError) throw e; // zstd missing or failing says so itself
    throw new IsolaError('CORRUPT', `layer ${path.basename(layer).slice(0, 12)} is not a readable tar archive: ${(e as Error).message}`, 'check the file, or rebuild it with tar');
  }
  await chain;
  if (failure) throw failure;
}

async function applyEntry(entry: ReadEntry, root: string, opts: UnpackOptions, created: Set<string>, report: UnpackReport): Promise<void> {
  const parts = safeComponents(entry.path);
  report.entries++;
  if (parts.length === 0) return void entry.resume(); // the root itself
  const base = parts[parts.length - 1] ?? '';
  const full = ensureParents(root, parts, entry.path, created, true);

  if (base === OPAQUE) {
    const dir = path.dirname(full);
    for (const child of fs.readdirSync(dir)) {
      const p = path.join(dir, child);
      if (!created.has(p)) fs.rmSync(p, { recursive: true, force: true });
    }
    return void entry.resume();
  }
  if (base.startsWith(WHITEOUT)) {
    fs.rmSync(path.join(path.dirname(full), base.slice(WHITEOUT.length)), { recursive: true, force: true });
    return void entry.resume();
  }

  const existing = lstatOrUndefined(full);
  if (existing && !(existing.isDirectory() && entry.type === 'Directory')) fs.rmSync(full, { recursive: true, force: true });
  const mode = (entry.mode ?? 0o644) & 0o7777;

  switch (entry.type) {
    case 'Directory':
      if (!existing?.isDirectory()) fs.mkdirSync(full, { mode });
      break;
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      await writeFile(entry, full, mode);
      break;
    case 'SymbolicLink':
      // The link target is not checked: it is resolved inside the instance, never by isola,
      // which never follows a symlink while writing.
      fs.symlinkSync(entry.linkpath ?? '', full);
      break;
    case 'Link': {
      const targetParts = safeComponents(entry.linkpath ?? '');
      const linkTarget = ensureParents(root, targetParts, entry.path, created, false);
      if (!lstatOrUndefined(linkTarget)) throw unsafe(entry.path, `hard link target "${entry.linkpath}" is not in the archive`);
      fs.linkSync(linkTarget, full);
      break;
    }
    case 'CharacterDevice':
    case 'BlockDevice':
    case 'FIFO':
      if (!opts.allowDevices) {
        report.skippedSpecial.push(entry.path);
        return void entry.resume();
      }
      throw unsafe(entry.path, 'device nodes are not supported');
    default:
      // pax/GNU metadata entries are consumed by the parser; anything else is skipped.
      return void entry.resume();
  }
  created.add(full);
  if (entry.type === 'Link') return void entry.resume(); // the inode already has its owner and mode
  const isLink = entry.type === 'SymbolicLink';
  if (!isLink) fs.chmodSync(full, mode); // mkdir/open honour the umask; the archive's mode wins
  fs.lchownSync(full, entry.uid ?? 0, entry.gid ?? 0);
  if (!isLink && entry.mtime) fs.utimesSync(full, entry.mtime, entry.mtime);
  if (entry.type === 'Directory' || isLink) entry.resume();
  // setuid/setgid bits are cleared by chown on Linux; apply the mode once more after it.
  if ((mode & 0o6000) !== 0 && !isLink) fs.chmodSync(full, mode);
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

async function writeFile(entry: ReadEntry, full: string, mode: number): Promise<void> {
  // O_EXCL|O_NOFOLLOW: never write into something that appeared at this path meanwhile.
  const fd = fs.openSync(full, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  const out = fs.createWriteStream('', { fd, autoClose: true });
  await pipeline(entry, out);
}
