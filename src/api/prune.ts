import path from 'node:path';
import type { Router, Call } from './router.js';
import { badRequest } from './errors.js';
import { readBody, sendJson } from './http.js';
import { timeArgUs } from './system.js';
import { IsolaError } from '../core/errors.js';
import { allocatedBytes } from '../util/fsx.js';
import { lifeOf } from '../state/instances.js';
import { isBuildCacheRef } from '../image/build/cache.js';

/**
 * Docker's prune endpoints (`docker container|image|volume|network prune`). Each removes through
 * the engine, as the single remove does, and skips what became used meanwhile; SpaceReclaimed is
 * measured (the allocated bytes of what went), never estimated.
 */

/** Docker's `label` filter values: `key`, `key=value`; `label!` the same, negated. */
function labelsMatch(labels: Record<string, string>, f: Map<string, string[]>): boolean {
  const has = (l: string): boolean => {
    const eq = l.indexOf('=');
    return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
  };
  return (f.get('label') ?? []).every(has) && !(f.get('label!') ?? []).some(has);
}

/** `until`: only what was created before this time (Unix seconds, RFC 3339). */
function untilMs(f: Map<string, string[]>): number {
  const u = f.get('until')?.[0];
  const us = timeArgUs(u, 'until');
  return us === undefined ? Infinity : us / 1000;
}

/** A prune races the CLI and other clients: what was started, taken or removed meanwhile is skipped. */
function changedMeanwhile(err: unknown): boolean {
  return err instanceof IsolaError && (err.code === 'FAILED_PRECONDITION' || err.code === 'NOT_FOUND');
}

async function containers(c: Call): Promise<void> {
  await readBody(c.req);
  const f = c.query.filters(['until', 'label', 'label!']);
  const before = untilMs(f);
  const e = c.api.engine;
  const deleted: string[] = [];
  let reclaimed = 0;
  // Stopped: exited (not waiting for a restart), dead, or created and never started; as Docker's.
  for (const r of await e.list(true)) {
    const stopped = (r.state === 'exited' && !lifeOf(r).restart) || r.state === 'dead' || r.state === 'created';
    if (!stopped || Date.parse(r.createdAt) >= before || !labelsMatch(r.spec.labels ?? {}, f)) continue;
    const size = allocatedBytes(path.join(e.paths.instances, r.id));
    try {
      await e.remove(r.id, false);
    } catch (err) {
      if (changedMeanwhile(err)) continue; // started or removed meanwhile
      throw err;
    }
    deleted.push(r.id);
    reclaimed += size;
  }
  sendJson(c.res, 200, { ContainersDeleted: deleted, SpaceReclaimed: reclaimed });
}

async function images(c: Call): Promise<void> {
  await readBody(c.req);
  const f = c.query.filters(['dangling', 'until', 'label', 'label!']);
  const dangling = f.get('dangling')?.[0] ?? 'true';
  if (!['true', 'false', '1', '0'].includes(dangling)) throw badRequest(`invalid filter 'dangling=${dangling.slice(0, 20)}'`);
  const onlyDangling = dangling === 'true' || dangling === '1';
  const before = untilMs(f);
  const e = c.api.engine;
  const store = e.images();
  const recs = e.instances.list();
  const used = new Set(recs.map((r) => r.imageRef));
  const usedDigests = new Set(recs.map((r) => r.imageDigest));
  const bytesBefore = allocatedBytes(e.paths.images);
  const out: Record<string, string>[] = [];
  // isola names every image; its untagged ones, Docker's dangling, are the build cache's steps.
  for (const i of store.list()) {
    if (used.has(i.ref) || usedDigests.has(i.digest)) continue;
    if (onlyDangling && !isBuildCacheRef(i.ref)) continue;
    const { config } = store.manifestOf(i.ref);
    if (Date.parse(config.created ?? '1970-01-01T00:00:00Z') >= before || !labelsMatch(config.config?.Labels ?? {}, f)) continue;
    const removed = await store.remove(i.ref);
    out.push({ Untagged: i.ref });
    if (!store.list().some((x) => x.digest === removed)) out.push({ Deleted: removed });
  }
  sendJson(c.res, 200, { ImagesDeleted: out.length > 0 ? out : null, SpaceReclaimed: Math.max(0, bytesBefore - allocatedBytes(e.paths.images)) });
}

async function volumes(c: Call): Promise<void> {
  await readBody(c.req);
  const f = c.query.filters(['label', 'label!', 'all']);
  const all = ['true', '1'].includes(f.get('all')?.[0] ?? 'false');
  const e = c.api.engine;
  const deleted: string[] = [];
  let reclaimed = 0;
  // API 1.42 on: anonymous volumes only, unless `all`.
  for (const v of e.volumes.list()) {
    if (v.usedBy.length > 0 || (!all && !v.anonymous) || !labelsMatch(v.labels, f)) continue;
    const size = allocatedBytes(v.mountpoint);
    try {
      e.volumes.remove(v.name);
    } catch (err) {
      if (changedMeanwhile(err)) continue; // taken meanwhile
      throw err;
    }
    deleted.push(v.name);
    reclaimed += size;
  }
  sendJson(c.res, 200, { VolumesDeleted: deleted, SpaceReclaimed: reclaimed });
}

async function networks(c: Call): Promise<void> {
  await readBody(c.req);
  const f = c.query.filters(['until']);
  const before = untilMs(f);
  const e = c.api.engine;
  const deleted: string[] = [];
  // User networks (the built-in ones have no creation time) that no instance is on; the remove checks again.
  for (const n of e.networks.list()) {
    if (n.createdAt === null || Date.parse(n.createdAt) >= before || n.instances.length > 0) continue;
    try {
      deleted.push((await e.networks.remove(n.id)).name);
    } catch (err) {
      if (!changedMeanwhile(err)) throw err; // joined or removed meanwhile
    }
  }
  sendJson(c.res, 200, { NetworksDeleted: deleted });
}

export function register(r: Router): void {
  r.add('POST', '/containers/prune', containers)
    .add('POST', '/images/prune', images)
    .add('POST', '/volumes/prune', volumes)
    .add('POST', '/networks/prune', networks);
}
