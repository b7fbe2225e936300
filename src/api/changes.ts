import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tar from 'tar';
import type { Router, Call } from './router.js';
import { SEGMENT } from './router.js';
import { sendJson } from './http.js';
import { findInstance } from './containers.js';

/**
 * GET /containers/{id}/changes: what the instance changed in its root file system, as `docker
 * diff` shows it: Kind 0 modified, 1 added, 2 deleted. Read from the same OCI layer the builder
 * takes of a container (engine.exportChanges: whiteouts are deletions); a path that exists in
 * the image is modified, one that does not is added. A VM's or hybrid's changes are inside its
 * disk, which isola does not read: 409 with the reason.
 */

export const KIND = { modified: 0, added: 1, deleted: 2 } as const;

/** The changes of one layer tar, against the image's unpacked root `lower`. */
export async function layerChanges(tarFile: string, lower: string): Promise<{ Path: string; Kind: number }[]> {
  const seen = new Map<string, number>();
  const add = (p: string, kind: number): void => {
    // The folders above a change are modified (Docker lists them too).
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      if (!seen.has(dir)) seen.set(dir, KIND.modified);
    }
    seen.set(p, kind);
  };
  await tar.t({
    file: tarFile,
    onReadEntry: (e) => {
      const rel = e.path.replace(/^\.?\/*/, '').replace(/\/$/, '');
      if (!rel) return;
      const base = path.posix.basename(rel);
      const dir = path.posix.dirname(rel);
      const abs = (r: string): string => `/${r}`.replace(/^\/\.$/, '/').replace(/\/\.\//g, '/');
      if (base === '.wh..wh..opq') add(abs(dir), KIND.modified);
      else if (base.startsWith('.wh.')) add(abs(path.posix.join(dir, base.slice(4))), KIND.deleted);
      else add(abs(rel), fs.existsSync(path.join(lower, rel)) || isLink(path.join(lower, rel)) ? KIND.modified : KIND.added);
    },
  });
  return [...seen].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([Path, Kind]) => ({ Path, Kind }));
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

async function changes(c: Call): Promise<void> {
  const e = c.api.engine;
  const rec = findInstance(c, c.params[0] ?? '');
  const scratch = path.join(e.paths.tmp, `changes-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  try {
    const file = path.join(scratch, 'layer.tar');
    await e.exportChanges(rec.id, file);
    const list = await layerChanges(file, e.cache.rootfs(rec.imageDigest));
    sendJson(c.res, 200, list.length > 0 ? list : null);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export function register(r: Router): void {
  r.add('GET', `/containers/${SEGMENT}/changes`, changes);
}
