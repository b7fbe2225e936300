import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import type { InstanceSpec, StoredData } from '../core/types.js';
import type { AnyDriver } from '../drivers/driver.js';
import { extractInto } from '../image/unpack.js';

/**
 * `isola cp` with `docker cp`'s rules, for every kind: a tar stream between a host path and a
 * path in a running instance (the driver makes and reads the instance's side, with paths
 * resolved inside the instance). Modes always survive; owners survive with `-a`, and are root's
 * otherwise (docker cp's rule: root is who runs isola); `-L` follows a symlink the source names.
 * A source ending in `/.` copies a folder's contents. `-` is a tar on stdin or stdout.
 */
export type CopyEnd = { instance: string; path: string } | { host: string };

export interface CopyOptions {
  archive: boolean;
  follow: boolean;
}

/** `NAME:PATH` names an instance's path; `-`, `/...` and `./...` are the host's (a host path with a colon needs ./). */
export function parseCopyEnd(arg: string): CopyEnd {
  if (arg === '-' || arg.startsWith('/') || arg.startsWith('.')) return { host: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { host: arg };
  return { instance: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

/** An instance path: absolute (a relative one is taken from the root, as docker cp does), `/.` kept. */
function instancePath(p: string): string {
  if (!p) throw invalid('no path inside the instance', 'use INSTANCE:/path');
  return p.startsWith('/') ? p : `/${p}`;
}

const contentsOnly = (p: string): boolean => p === '.' || p.endsWith('/.');
const lastName = (p: string): string => path.posix.basename(path.posix.normalize(p)) || '.';

/** Renames an archive's top entry (`to`), or drops it and keeps what is below (`to` null). */
function renameTop(to: string | null): (p: string) => string | null {
  return (p) => {
    const parts = p.split('/').filter((c) => c && c !== '.');
    parts.shift();
    if (to === null) return parts.length === 0 ? '.' : parts.join('/');
    return [to, ...parts].join('/');
  };
}

interface Running {
  spec: InstanceSpec;
  data: StoredData;
  driver: AnyDriver;
}

/** From the instance to the host (or to stdout as a tar). */
export async function copyOut(r: Running, src: string, dest: string, opts: CopyOptions, stdout: Writable): Promise<void> {
  const p = instancePath(src);
  const kind = await r.driver.statPath(r.spec, r.data, p, opts.follow);
  if (kind === 'missing') throw notFound(`no such file or folder in ${r.spec.name}: ${p}`, 'check the path (isola exec INSTANCE ls)');
  if (dest === '-') return r.driver.copyOut(r.spec, r.data, p, stdout, { follow: opts.follow });
  const srcIsDir = kind === 'dir';
  let into: string;
  let rename: (e: string) => string | null;
  const st = statOrNull(dest);
  if (!st) {
    if (dest.endsWith('/') && !srcIsDir) throw notFound(`the destination folder ${dest} does not exist`, 'create it first, or name a file without the trailing /');
    into = path.dirname(path.resolve(dest));
    if (!statOrNull(into)?.isDirectory()) throw notFound(`the destination's folder ${into} does not exist`, 'create it first');
    rename = renameTop(path.basename(path.resolve(dest)));
  } else if (st.isDirectory()) {
    into = dest;
    rename = contentsOnly(p) && srcIsDir ? renameTop(null) : renameTop(lastName(p));
  } else {
    if (srcIsDir) throw invalid(`cannot copy the folder ${p} onto the file ${dest}`, 'name a folder, or a path that does not exist yet');
    into = path.dirname(path.resolve(dest));
    rename = renameTop(path.basename(path.resolve(dest)));
  }
  const root = fs.realpathSync(into);
  const pipe = new PassThrough({ highWaterMark: 1 << 20 });
  const producing = r.driver.copyOut(r.spec, r.data, p, pipe, { follow: opts.follow }).then(() => pipe.end(), (e: unknown) => {
    pipe.destroy(e as Error);
    throw e;
  });
  const consuming = extractInto(pipe, root, { rename, ...(opts.archive ? {} : { owner: { uid: 0, gid: 0 } }) });
  await settleBoth(producing, consuming);
}

/** From the host (or a tar on stdin) into the instance. */
export async function copyIn(r: Running, src: string, dest: string, opts: CopyOptions, stdin: Readable): Promise<void> {
  const p = instancePath(dest);
  const owner = opts.archive ? {} : { owner: { uid: 0, gid: 0 } };
  if (src === '-') {
    if ((await r.driver.statPath(r.spec, r.data, p, true)) !== 'dir') throw notFound(`no such folder in ${r.spec.name}: ${p}`, 'a tar on stdin is unpacked into an existing folder');
    return r.driver.copyIn(r.spec, r.data, p, stdin, owner);
  }
  const lst = statOrNull(src, false);
  if (!lst) throw notFound(`no such file or folder: ${src}`, 'check the host path');
  const real = opts.follow || contentsOnly(src) ? fs.realpathSync(src) : path.join(fs.realpathSync(path.dirname(path.resolve(src))), path.basename(path.resolve(src)));
  const srcIsDir = fs.lstatSync(real).isDirectory();
  const dk = await r.driver.statPath(r.spec, r.data, p, true);
  let into: string;
  let top: string | null;
  if (dk === 'missing') {
    if (p.endsWith('/') && !srcIsDir) throw notFound(`the destination folder ${p} does not exist in ${r.spec.name}`, 'create it first, or name a file without the trailing /');
    into = path.posix.dirname(path.posix.normalize(p));
    if ((await r.driver.statPath(r.spec, r.data, into, true)) !== 'dir') throw notFound(`no such folder in ${r.spec.name}: ${into}`, 'create it first');
    top = lastName(p);
  } else if (dk === 'dir') {
    into = p;
    top = contentsOnly(src) && srcIsDir ? null : path.basename(path.resolve(src));
  } else {
    if (srcIsDir) throw invalid(`cannot copy the folder ${src} onto the file ${p}`, 'name a folder, or a path that does not exist yet');
    into = path.posix.dirname(path.posix.normalize(p));
    top = lastName(p);
  }
  const { create } = await import('tar');
  const entry = top === null ? '.' : path.basename(real);
  const pack = create({
    cwd: top === null ? real : path.dirname(real), portable: false, follow: false,
    onWriteEntry: (e) => {
      if (top !== null) e.path = top + e.path.slice(entry.length);
    },
  }, [entry]);
  const pipe = new PassThrough({ highWaterMark: 1 << 20 });
  pack.on('error', (e: unknown) => pipe.destroy(e as Error));
  pack.pipe(pipe);
  await r.driver.copyIn(r.spec, r.data, into, pipe, owner);
}

function statOrNull(p: string, follow = true): fs.Stats | null {
  try {
    return follow ? fs.statSync(p) : fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** Waits for both sides of a stream; the first failure is the one reported. */
async function settleBoth(a: Promise<unknown>, b: Promise<unknown>): Promise<void> {
  const [x, y] = await Promise.allSettled([a, b]);
  if (x.status === 'rejected') throw x.reason instanceof IsolaError ? x.reason : new IsolaError('INTERNAL', `copy failed: ${(x.reason as Error).message}`);
  if (y.status === 'rejected') throw y.reason;
}
