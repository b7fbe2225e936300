import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadEntry } from 'tar';
import { IsolaError } from '../../core/errors.js';
import type { ImageStore } from '../store.js';

/** A regular file of an archive, landed in the store's temp area with its digest. */
export interface ArchivedFile {
  tmp: string;
  digest: string;
  size: number;
}

/**
 * An image archive read once, front to back: every regular file goes to a temp file in the
 * store (same file system as the blobs, so committing is a rename), hashed on the way; symlinks
 * are kept as names (Docker's legacy format links repeated layers). Nothing is extracted by its
 * archive path, so an archive cannot write anywhere: paths are only keys.
 */
export class ArchiveFiles {
  readonly files = new Map<string, ArchivedFile>();
  readonly links = new Map<string, string>();

  constructor(readonly what: string) {}

  /** The file at `p`, following symlinks inside the archive. */
  get(p: string): ArchivedFile | undefined {
    let key = normalize(p);
    for (let hops = 0; hops < 16; hops++) {
      const f = this.files.get(key);
      if (f) return f;
      const target = this.links.get(key);
      if (target === undefined) return undefined;
      key = normalize(target.startsWith('/') ? target : `${key.split('/').slice(0, -1).join('/')}/${target}`);
    }
    return undefined;
  }

  need(p: string): ArchivedFile {
    const f = this.get(p);
    if (!f) throw new IsolaError('CORRUPT', `${this.what} names ${p}, which is not in the archive`, 'the archive is incomplete or damaged; save it again');
    return f;
  }

  json<T>(p: string): T {
    const f = this.need(p);
    try {
      return JSON.parse(fs.readFileSync(f.tmp, 'utf8')) as T;
    } catch {
      throw new IsolaError('CORRUPT', `${p} in ${this.what} is not valid JSON`, 'the archive is damaged; save it again');
    }
  }

  dispose(): void {
    for (const f of this.files.values()) fs.rmSync(f.tmp, { force: true });
    this.files.clear();
  }
}

/** `./a/../b` and `/x` as the plain relative key they name. */
export function normalize(p: string): string {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out.join('/');
}

export async function readArchive(input: Readable, store: ImageStore, what: string): Promise<ArchiveFiles> {
  const files = new ArchiveFiles(what);
  const { Parser } = await import('tar');
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  let entries = 0;
  const broken = (message: string) => new IsolaError('CORRUPT', `${what} is not a readable tar archive: ${message}`, 'the file is truncated or not an image archive (docker save, podman save or isola save writes one)');
  const parser = new Parser({
    // node-tar reports damage (a truncated archive, garbage) as warnings and carries on; here it is fatal.
    onwarn: (code: string, message: string) => {
      if (/TAR_BAD_ARCHIVE|TAR_ENTRY_INVALID|TAR_ABORT|ZLIB/.test(code)) failure ??= broken(message);
    },
    onReadEntry: (entry: ReadEntry) => {
      entries++;
      chain = chain.then(async () => {
        if (failure) return void entry.resume();
        try {
          const key = normalize(entry.path);
          if (entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile') {
            const tmp = store.tempPath();
            const h = createHash('sha256');
            let size = 0;
            files.files.set(key, { tmp, digest: '', size: 0 });
            await pipeline(entry, new Transform({
              transform(chunk: Buffer, _e, cb) {
                h.update(chunk);
                size += chunk.length;
                cb(null, chunk);
              },
            }), fs.createWriteStream(tmp));
            if (size !== entry.size) throw broken(`${key} is cut short`);
            files.files.set(key, { tmp, digest: `sha256:${h.digest('hex')}`, size });
          } else {
            if (entry.type === 'SymbolicLink' || entry.type === 'Link') files.links.set(key, entry.type === 'Link' ? `/${entry.linkpath ?? ''}` : (entry.linkpath ?? ''));
            entry.resume();
          }
        } catch (e) {
          failure ??= e;
          entry.resume();
        }
      });
    },
  });
  try {
    await pipeline(input, parser);
    await chain;
  } catch (e) {
    await chain.catch(() => undefined);
    files.dispose();
    if (failure) throw failure;
    if (e instanceof IsolaError) throw e;
    throw broken((e as Error).message);
  }
  if (failure || entries === 0) {
    files.dispose();
    throw failure ?? broken('it holds no files');
  }
  return files;
}
