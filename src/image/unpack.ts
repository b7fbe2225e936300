import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { ReadEntry } from 'tar';
import { IsolaError } from '../core/errors.js';
import type { ResolvedImage } from '../core/types.js';
import { sha256File } from './digest.js';
import { NAME_MAX, cleanComponents, resolveDir, resolveEntry, unsafe } from './root-path.js';
import { openUncompressed } from './compression.js';

/**
 * The one function that unpacks OCI layers, for import, pull, build, container root file
 * systems and VM root disks alike. Nothing outside `target` is ever created, changed or
 * removed, whatever the archive says:
 *
 * - every path that names something (entry path, hard link target, whiteout, opaque marker,
 *   PAX and GNU long names, which the tar parser folds into the same fields) is resolved inside
 *   the target (root-path.ts): symlinks on the way are followed inside it, as containerd does,
 *   and the last component is replaced, never written through;
 * - a `..` that climbs above the target, a hard link to something missing or to a directory, a
 *   whiteout of `.`, `..` or nothing: refused (UNSAFE, naming the entry);
 * - device nodes and FIFOs are skipped and reported, unless allowDevices: a container gets its
 *   /dev from the runtime and a VM from devtmpfs;
 * - sizes are bounded: bytes written and entries created stop at limits (default: what the file
 *   system holding the target has free, less a margin), so a hostile layer cannot fill the disk.
 *
 * On any error the target is left half-written: callers unpack into a scratch folder and
 * remove it on failure, so nothing partial is ever used.
 */
export interface UnpackLimits {
  /** Bytes of file content the layers may write in all; default: free space less 10 % (and less 256 MiB). */
  maxBytes?: number;
  /** Entries the layers may hold in all; default: free inodes less 10 %, at most 4 million. */
  maxEntries?: number;
}

export interface UnpackOptions extends UnpackLimits {
  /** Check each layer's sha256 against this digest before unpacking it. */
  expectedDigests?: string[];
  allowDevices?: boolean;
  /** A plain archive (isola cp), not a layer: `.wh.` names are ordinary files. */
  plain?: boolean;
  /** Renames each entry's path (and hard link targets); null skips the entry. */
  rename?: (p: string) => string | null;
  /** Every entry gets this owner instead of the archive's (docker cp without -a). */
  owner?: { uid: number; gid: number };
}

export interface UnpackReport {
  entries: number;
  bytes: number;
  skippedSpecial: string[];
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MARGIN_BYTES = 256 * 1024 * 1024;
const ENTRY_CAP = 4_000_000;

export async function unpackImage(image: ResolvedImage, target: string, limits: UnpackLimits = {}): Promise<UnpackReport> {
  return unpackLayers(image.layers, target, { ...limits, expectedDigests: image.layerDigests });
}

/** The limits that apply when none are given: what the target's file system can take. */
export function defaultLimits(target: string): Required<UnpackLimits> {
  const st = fs.statfsSync(target);
  const freeBytes = st.bavail * st.bsize;
  const freeInodes = st.ffree > 0 ? st.ffree : ENTRY_CAP; // some file systems report no inode count
  return {
    maxBytes: Math.max(0, Math.floor(freeBytes * 0.9) - MARGIN_BYTES),
    maxEntries: Math.max(0, Math.min(ENTRY_CAP, Math.floor(freeInodes * 0.9))),
  };
}

export async function unpackLayers(layers: string[], target: string, opts: UnpackOptions = {}): Promise<UnpackReport> {
  fs.mkdirSync(target, { recursive: true });
  const root = fs.realpathSync(target);
  const defaults = opts.maxBytes === undefined || opts.maxEntries === undefined ? defaultLimits(root) : null;
  const limits = { maxBytes: opts.maxBytes ?? defaults?.maxBytes ?? 0, maxEntries: opts.maxEntries ?? defaults?.maxEntries ?? 0 };
  const report: UnpackReport = { entries: 0, bytes: 0, skippedSpecial: [] };
  for (const [i, layer] of layers.entries()) {
    const expected = opts.expectedDigests?.[i];
    if (expected) {
      const actual = await sha256File(layer).catch(() => 'missing');
      if (actual !== expected) {
        throw new IsolaError('CORRUPT', `layer ${expected.slice(0, 19)} does not match its digest (${actual === 'missing' ? 'file missing' : `found ${actual.slice(0, 19)}`})`, 'remove the image (isola rmi) and add it again');
      }
    }
    await applyLayer(() => openUncompressed(layer), layer, root, opts, limits, report);
  }
  return report;
}

/**
 * Extracts one plain tar stream (isola cp) into `root` with the same guarantees: every path is
 * resolved inside `root`, which is used as given, never resolved itself, because it may be
 * /proc/PID/root, the root of a running container (whose own symlinks must lead back into it).
 */
export async function extractInto(input: Readable, root: string, opts: UnpackOptions = {}): Promise<UnpackReport> {
  const defaults = opts.maxBytes === undefined || opts.maxEntries === undefined ? defaultLimits(root) : null;
  const limits = { maxBytes: opts.maxBytes ?? defaults?.maxBytes ?? 0, maxEntries: opts.maxEntries ?? defaults?.maxEntries ?? 0 };
  const report: UnpackReport = { entries: 0, bytes: 0, skippedSpecial: [] };
  await applyLayer(() => Promise.resolve(input), 'archive', root, { ...opts, plain: true }, limits, report);
  return report;
}

function tooLarge(what: string, limit: number, unit: string): IsolaError {
  return new IsolaError('RESOURCE_EXHAUSTED', `the image's layers expand past ${limit} ${unit} (${what})`, 'free space under the data root, or raise ISOLA_UNPACK_MAX_BYTES / ISOLA_UNPACK_MAX_ENTRIES if the image is really that large');
}

function corrupt(layer: string, message: string): IsolaError {
  return new IsolaError('CORRUPT', `layer ${path.basename(layer).slice(0, 12)} is not a readable tar archive: ${message}`, 'check the file, or rebuild it with tar');
}

async function applyLayer(open: () => Promise<Readable>, layer: string, root: string, opts: UnpackOptions, limits: Required<UnpackLimits>, report: UnpackReport): Promise<void> {
  // Paths written by this layer: an opaque whiteout hides lower layers' entries, not these.
  const created = new Set<string>();
  // Loaded on first use: starting an instance of an already unpacked image needs no tar code.
  const { Parser } = await import('tar');
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  // The entry being written, if any: when the archive breaks off in the middle of it, it will
  // never end on its own, so it is ended with the error.
  let current: ReadEntry | null = null;
  const parser = new Parser({
    // node-tar reports a damaged archive as a warning and carries on; for a layer it is fatal:
    // strict turns every warning (bad checksum, truncation, a link without a target) into an error.
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      // Entries are handled strictly in order; the parser stalls until each one is consumed.
      chain = chain.then(async () => {
        if (failure) return void entry.resume();
        current = entry;
        try {
          await applyEntry(entry, root, opts, limits, created, report);
        } catch (e) {
          failure ??= e instanceof IsolaError ? e : fsError(entry.path, e);
          entry.resume();
        } finally {
          current = null;
        }
      });
    },
  });
  try {
    await pipeline(await open(), parser);
  } catch (e) {
    // zstd missing or failing says so itself; anything else is a broken archive.
    failure ??= e instanceof IsolaError ? e : corrupt(layer, (e as Error).message);
    (current as ReadEntry | null)?.destroy(failure as Error);
    await chain;
    throw failure;
  }
  await chain;
  if (failure) throw failure;
}

/** A file system error while applying an entry is the archive's doing (a name too long, a type clash): refuse it by name. */
function fsError(entry: string, e: unknown): IsolaError {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ENOSPC' || code === 'EDQUOT') return new IsolaError('RESOURCE_EXHAUSTED', `no space left while unpacking "${entry.slice(0, 200)}"`, 'free space under the data root');
  return unsafe(entry, `it cannot be applied (${code}: ${(e as Error).message.slice(0, 120)})`);
}

async function applyEntry(entry: ReadEntry, root: string, opts: UnpackOptions, limits: Required<UnpackLimits>, created: Set<string>, report: UnpackReport): Promise<void> {
  if (++report.entries > limits.maxEntries) throw tooLarge(`${report.entries} entries`, limits.maxEntries, 'entries');
  const onCreate = (d: string) => created.add(d);
  const entryPath = opts.rename ? opts.rename(entry.path) : entry.path;
  if (entryPath === null) return void entry.resume();
  const name = path.posix.basename(entryPath.replace(/\/+$/, ''));

  // Whiteouts and opaque markers name something to remove; what they name is resolved like any path.
  if (!opts.plain && name.startsWith(WHITEOUT) && entry.type !== 'Directory') {
    const parts = cleanComponents(entryPath, entryPath);
    if (parts[parts.length - 1] !== name) throw unsafe(entryPath, 'a whiteout must be the last component of its path');
    const dir = resolveDir(root, parts.slice(0, -1), entryPath, { create: true, onCreate });
    if (name === OPAQUE) {
      for (const child of fs.readdirSync(dir)) {
        const p = path.join(dir, child);
        if (!created.has(p)) fs.rmSync(p, { recursive: true, force: true });
      }
    } else {
      const hidden = name.slice(WHITEOUT.length);
      if (hidden === '' || hidden === '.' || hidden === '..' || hidden.includes('/') || Buffer.byteLength(hidden) > NAME_MAX) {
        throw unsafe(entryPath, `a whiteout must name one entry of its folder, not "${hidden}"`);
      }
      fs.rmSync(path.join(dir, hidden), { recursive: true, force: true });
    }
    return void entry.resume();
  }

  const at = resolveEntry(root, entryPath, { create: true, onCreate });
  if (!at) {
    if (entry.type === 'Directory') return void entry.resume(); // `./`: the root itself
    throw unsafe(entryPath, 'only a directory may name the root itself');
  }
  const { full } = at;
  const special = entry.type === 'CharacterDevice' || entry.type === 'BlockDevice' || entry.type === 'FIFO';
  if (special && !opts.allowDevices) {
    report.skippedSpecial.push(entryPath);
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
      report.bytes += entry.size ?? 0;
      if (report.bytes > limits.maxBytes) throw tooLarge(`${report.bytes} bytes`, limits.maxBytes, 'bytes');
      await writeFile(entry, full, mode, () => limits.maxBytes - report.bytes);
      break;
    case 'SymbolicLink':
      // The target is stored as given: it is resolved inside the instance, or by root-path.ts
      // inside the root, never by the kernel on the host while isola writes.
      fs.symlinkSync(entry.linkpath ?? '', full);
      break;
    case 'Link': {
      const target = opts.rename ? opts.rename(entry.linkpath ?? '') : (entry.linkpath ?? '');
      const linked = target === null ? null : resolveEntry(root, target, { create: false });
      const st = linked ? lstatOrUndefined(linked.full) : undefined;
      if (!linked || !st) throw unsafe(entryPath, `hard link target "${entry.linkpath}" is not in the archive`);
      if (st.isDirectory()) throw unsafe(entryPath, `hard link target "${entry.linkpath}" is a directory`);
      fs.linkSync(linked.full, full); // link(2) does not follow a symlink target: it links the symlink
      break;
    }
    case 'CharacterDevice':
    case 'BlockDevice':
    case 'FIFO':
      throw unsafe(entryPath, 'device nodes are not supported');
    default:
      // pax/GNU metadata entries are consumed by the parser; anything else is skipped.
      return void entry.resume();
  }
  created.add(full);
  if (entry.type === 'Link') return void entry.resume(); // the inode already has its owner and mode
  const isLink = entry.type === 'SymbolicLink';
  fs.lchownSync(full, opts.owner?.uid ?? entry.uid ?? 0, opts.owner?.gid ?? entry.gid ?? 0);
  // chown clears setuid/setgid on Linux and mkdir/open honour the umask: the archive's mode last.
  if (!isLink) fs.chmodSync(full, mode);
  if (!isLink && entry.mtime) fs.utimesSync(full, entry.mtime, entry.mtime);
  if (entry.type === 'Directory' || isLink) entry.resume();
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** Writes the entry's body to a new file; stops when it passes what the limits leave. */
async function writeFile(entry: ReadEntry, full: string, mode: number, left: () => number): Promise<void> {
  // O_EXCL|O_NOFOLLOW: never write into something that appeared at this path meanwhile.
  const fd = fs.openSync(full, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  let written = 0;
  const budget = left() + (entry.size ?? 0);
  const guard = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      written += chunk.length;
      // The header's size was counted already; a body longer than it claims is a broken archive.
      cb(written > budget ? tooLarge(`${written} bytes in one file`, budget, 'bytes') : null, chunk);
    },
  });
  await pipeline(entry, guard, fs.createWriteStream('', { fd, autoClose: true }));
}
