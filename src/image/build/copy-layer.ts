import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { unpackLayers } from '../unpack.js';
import type { SourceMatch, SourceTree } from './context.js';
import type { FsTree } from './fs-tree.js';
import type { Owner } from './chown.js';

/**
 * The layer of a COPY or ADD, built from the sources directly (never by running a container):
 * the files are copied into a staging tree laid out as they will be in the image, given their
 * owners (0:0 from the context, as Docker does; the source's own from a stage or image; or
 * --chown) and modes (the source's, or --chmod), and packed with node-tar in sorted order.
 *
 * Destination folders the image already has are written through, never as entries of their
 * own, so the layer cannot change their modes or replace a symlinked folder (Debian's /bin ->
 * usr/bin): the destination is resolved through the image's symlinks first (fs-tree.ts).
 * With SOURCE_DATE_EPOCH every time is clamped to it, as BuildKit does.
 */
export interface CopyLayerInput {
  tree: SourceTree;
  matches: SourceMatch[];
  /** Absolute; a trailing slash means "into this folder". */
  dest: string;
  /** Context files are owned by root in the image; a stage's files keep their owners. */
  fromContext: boolean;
  /** WORKDIR: a folder to create (with its missing parents) when the image lacks it. */
  mkdir?: string;
  /** ADD: local tar archives (plain, gzip, bzip2, xz) are extracted into the destination. */
  extract: boolean;
  image: FsTree;
  owner?: Owner;
  chmod?: number;
  /** Seconds since the epoch: the latest time any entry may carry. */
  epoch?: number;
  /** The time of this build, for folders the layer creates. */
  now: Date;
  staging: string;
  tarFile: string;
}

interface Staged {
  /** Relative paths to put in the tar (created here), with what each is. */
  entries: Map<string, 'dir' | 'file' | 'symlink'>;
}

async function archiveKind(file: string): Promise<'tar' | 'gzip' | 'bzip2' | 'xz' | null> {
  const fd = await fs.promises.open(file, 'r');
  try {
    const b = Buffer.alloc(512);
    const { bytesRead } = await fd.read(b, 0, 512, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (bytesRead >= 3 && b.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
    if (bytesRead >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (bytesRead >= 262 && b.toString('latin1', 257, 262) === 'ustar') return 'tar';
    return null;
  } finally {
    await fd.close();
  }
}

/** bzip2 and xz through Debian's programs (Node has neither); gzip and plain tar go to the unpacker as they are. */
async function decompressTo(file: string, kind: 'bzip2' | 'xz', out: string): Promise<void> {
  const child = spawn(kind, ['-d', '-c', '--', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  await pipeline(child.stdout, fs.createWriteStream(out));
  if ((await exited) !== 0) throw new Error(`${kind} could not decompress ${path.basename(file)}`);
}

function clampTime(t: Date, epoch: number | undefined): Date {
  return epoch !== undefined && t.getTime() > epoch * 1000 ? new Date(epoch * 1000) : t;
}

export async function buildCopyLayer(input: CopyLayerInput): Promise<{ entries: number }> {
  const staged: Staged = { entries: new Map() };
  const dirTimes: [string, Date][] = [];
  const root = input.staging;
  fs.mkdirSync(root, { recursive: true });
  const owner = (st: fs.Stats): Owner => input.owner ?? (input.fromContext ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid });

  /**
   * The folder `dir` (absolute, in the image) inside the staging tree, symlinks of the image
   * followed; folders the image lacks are created as entries (0755, the --chown owner or root).
   */
  const ensureDir = (dir: string): string => {
    const resolved = input.image.resolve(dir).path;
    let cur = '';
    for (const part of resolved.split('/').filter(Boolean)) {
      cur = cur ? `${cur}/${part}` : part;
      const abs = path.join(root, cur);
      if (fs.existsSync(abs)) continue;
      fs.mkdirSync(abs);
      if (input.image.resolve(cur, false).node === undefined) {
        const o = input.owner ?? { uid: 0, gid: 0 };
        fs.chownSync(abs, o.uid, o.gid);
        fs.chmodSync(abs, 0o755);
        staged.entries.set(cur, 'dir');
        dirTimes.push([abs, clampTime(input.now, input.epoch)]);
        input.image.add(cur, 'dir');
      }
    }
    return resolved;
  };

  const place = (rel: string, src: string, st: fs.Stats): void => {
    const abs = path.join(root, rel);
    const o = owner(st);
    const time = clampTime(st.mtime, input.epoch);
    if (st.isDirectory()) {
      if (!fs.existsSync(abs)) fs.mkdirSync(abs);
      fs.chownSync(abs, o.uid, o.gid);
      fs.chmodSync(abs, input.chmod ?? st.mode & 0o7777);
      dirTimes.push([abs, time]);
      staged.entries.set(rel, 'dir');
    } else if (st.isSymbolicLink()) {
      fs.rmSync(abs, { force: true });
      fs.symlinkSync(fs.readlinkSync(src), abs);
      fs.lchownSync(abs, o.uid, o.gid);
      fs.lutimesSync(abs, time, time);
      staged.entries.set(rel, 'symlink');
    } else if (st.isFile()) {
      fs.rmSync(abs, { force: true, recursive: true });
      fs.copyFileSync(src, abs);
      fs.chownSync(abs, o.uid, o.gid);
      // chmod after chown: chown clears setuid bits.
      fs.chmodSync(abs, input.chmod ?? st.mode & 0o7777);
      fs.utimesSync(abs, time, time);
      staged.entries.set(rel, 'file');
    }
    // Sockets, FIFOs and devices in a context are skipped, as Docker skips them.
  };

  const intoDir = input.dest.endsWith('/');
  for (const m of input.matches) {
    if (m.isDir) {
      const base = ensureDir(input.dest);
      for (const e of input.tree.entries(m)) {
        const parent = path.posix.dirname(e.rel);
        if (parent !== '.') ensureDir(path.posix.join('/', base, parent));
        place(path.posix.join(base, e.rel), e.abs, e.stat);
      }
      continue;
    }
    const kind = input.extract ? await archiveKind(m.abs) : null;
    if (kind) {
      const base = ensureDir(input.dest);
      const target = path.join(root, base);
      let archive = m.abs;
      if (kind === 'bzip2' || kind === 'xz') {
        archive = path.join(path.dirname(input.tarFile), `archive-${staged.entries.size}.tar`);
        await decompressTo(m.abs, kind, archive);
      }
      // The unpacker every layer goes through: nothing in the archive can land outside the destination.
      await unpackLayers([archive], target);
      if (archive !== m.abs) fs.rmSync(archive, { force: true });
      for (const rel of fs.readdirSync(target, { recursive: true }).map(String).sort()) {
        const abs = path.join(target, rel);
        const st = fs.lstatSync(abs);
        const r = path.posix.join(base, rel);
        staged.entries.set(r, st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file');
        if (input.epoch !== undefined) {
          const t = clampTime(st.mtime, input.epoch);
          if (st.isDirectory()) dirTimes.push([abs, t]);
          else fs.lutimesSync(abs, t, t);
        }
      }
      continue;
    }
    const st = fs.statSync(m.abs);
    const name = path.posix.basename(m.rel) || path.basename(m.abs);
    const toDir = intoDir || input.image.isDir(input.dest);
    const target = toDir ? path.posix.join(input.dest, name) : input.dest;
    const parent = ensureDir(path.posix.dirname(target));
    place(path.posix.join(parent, path.posix.basename(target)), m.abs, st);
  }
  if (input.mkdir !== undefined) ensureDir(input.mkdir);
  // Folder times last: writing into a folder changes its time.
  for (const [abs, t] of dirTimes.reverse()) fs.utimesSync(abs, t, t);
  const list = [...staged.entries.keys()].sort();
  for (const [rel, type] of staged.entries) {
    const abs = path.join(root, rel);
    input.image.add(rel, type, type === 'symlink' ? fs.readlinkSync(abs) : undefined, () => fs.readFileSync(abs));
  }
  if (list.length === 0) {
    fs.writeFileSync(input.tarFile, Buffer.alloc(1024)); // an empty tar: two zero blocks
    return { entries: 0 };
  }
  const { create } = await import('tar');
  await create({
    file: input.tarFile, cwd: root, portable: false, noDirRecurse: true,
    // The header's access and change times would differ between two builds of the same files.
    onWriteEntry: (e) => {
      if (e.stat) Object.assign(e.stat, { atime: e.stat.mtime, ctime: e.stat.mtime });
    },
  }, list);
  return { entries: list.length };
}
