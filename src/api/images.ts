import type { Call, Router } from './router.js';
import { IMAGE } from './router.js';
import { ApiError, badRequest, toResponse } from './errors.js';
import { isIsolaError } from '../core/errors.js';
import { sendJson } from './http.js';
import { BASE_REF, ensureBaseImage } from '../image/base.js';
import { normalizeRef, parseReference, repoAndTag } from '../image/ref.js';
import { isBuildCacheRef } from '../image/build/cache.js';
import { HOST_PLATFORM, parsePlatform } from '../image/platform.js';
import { which } from '../util/which.js';
import type { ImageSummary } from '../image/store.js';
import { historyRows } from '../cli/history.js';

/**
 * An image as a path or query names it: a reference (checked by the reference grammar before
 * it reaches the store), or an id (a manifest digest, or 12 or more of its hex digits).
 */
async function resolveName(c: Call, text: string): Promise<{ refs: string[]; digest: string }> {
  const store = c.api.engine.images();
  const id = /^(?:sha256:)?([a-f0-9]{12,64})$/.exec(text);
  if (id) {
    const hits = store.list().filter((i) => i.digest.slice(7).startsWith(id[1] ?? ''));
    const digests = new Set(hits.map((h) => h.digest));
    if (digests.size > 1) throw badRequest(`image id ${text} is ambiguous`);
    const first = hits[0];
    if (first) return { refs: hits.map((h) => h.ref), digest: first.digest };
  }
  parseReference(text); // 400 for what is not a reference
  const ref = normalizeRef(localName(text));
  if (ref === BASE_REF) await ensureBaseImage(store);
  // A local name, or the name a Docker archive gave it (docker.io/library/NAME, shown as NAME).
  const names = parseReference(ref).host === undefined ? [ref, normalizeRef(`docker.io/${ref.includes('/') ? '' : 'library/'}${ref}`)] : [ref];
  for (const name of names) {
    const desc = store.findDescriptor(name);
    if (desc) return { refs: [name], digest: desc.digest };
  }
  throw new ApiError(404, `No such image: ${ref}`);
}

/**
 * The docker CLI writes a name without a registry as Docker Hub's (`docker.io/library/NAME`);
 * isola has no default registry, so that is the local NAME.
 */
export function localName(text: string): string {
  return text.replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\/(?:library\/)?/, '');
}

function grouped(list: ImageSummary[]): Map<string, ImageSummary[]> {
  const by = new Map<string, ImageSummary[]>();
  for (const i of list) by.set(i.digest, [...(by.get(i.digest) ?? []), i]);
  return by;
}

async function list(c: Call): Promise<void> {
  c.query.filters(['reference', 'dangling', 'label', 'before', 'since']); // checked; only reference is applied
  const store = c.api.engine.images();
  await ensureBaseImage(store);
  const all = c.query.bool('all');
  const refFilter = c.query.filters(['reference', 'dangling', 'label', 'before', 'since']).get('reference');
  const images = store.list().filter((i) => all || !isBuildCacheRef(i.ref)).filter((i) => !refFilter || refFilter.some((r) => i.ref === normalizeRef(r) || repoAndTag(i.ref).repository === r));
  const used = new Set(c.api.engine.instances.list().map((r) => r.imageDigest));
  sendJson(c.res, 200, [...grouped(images)].map(([digest, same]) => {
    const i = same[0] as ImageSummary;
    return {
      Id: digest, ParentId: '', RepoTags: same.map((s) => s.ref.includes('@') ? null : s.ref).filter(Boolean), RepoDigests: same.map((s) => s.ref).filter((r) => r.includes('@')),
      Created: i.created ? Math.floor(Date.parse(i.created) / 1000) : 0, Size: i.size, VirtualSize: i.size, SharedSize: -1, Labels: {}, Containers: used.has(digest) ? 1 : 0,
    };
  }));
}

async function inspect(c: Call): Promise<void> {
  const { refs, digest } = await resolveName(c, c.params[0] ?? '');
  const store = c.api.engine.images();
  const { manifest, config } = store.manifestOf(refs[0] ?? '');
  const size = manifest.layers.reduce((a, l) => a + l.size, 0);
  sendJson(c.res, 200, {
    Id: digest, RepoTags: refs.filter((r) => !r.includes('@')), RepoDigests: refs.filter((r) => r.includes('@')), Parent: '', Comment: '',
    Created: config.created ?? '0001-01-01T00:00:00Z', Author: config.author ?? '', Architecture: config.architecture, Os: config.os,
    ...(config.variant ? { Variant: config.variant } : {}),
    Config: { ...config.config, Env: config.config?.Env ?? [], Cmd: config.config?.Cmd ?? null, Entrypoint: config.config?.Entrypoint ?? null, Labels: config.config?.Labels ?? null },
    Size: size, VirtualSize: size, RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids }, Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  });
}

/** GET /images/{name}/history: as `docker history` reads it, newest first; the newest row carries the image id and tags. */
async function history(c: Call): Promise<void> {
  const { refs } = await resolveName(c, c.params[0] ?? '');
  const rows = historyRows(c.api.engine.images(), refs[0] ?? '');
  sendJson(c.res, 200, rows.map((r, i) => ({
    Id: r.id ?? '<missing>', Created: r.created ? Math.floor(Date.parse(r.created) / 1000) : 0, CreatedBy: r.createdBy,
    Tags: i === 0 ? refs.filter((x) => !x.includes('@')) : null, Size: r.size, Comment: r.comment,
  })));
}

/** A JSON progress stream whose header waits for the first line, so an early failure is a plain error status. */
function progressStream(c: Call) {
  let started = false;
  const line = (o: unknown) => {
    if (!started) {
      c.res.writeHead(200, { 'Content-Type': 'application/json' });
      started = true;
    }
    c.res.write(`${JSON.stringify(o)}\n`);
  };
  return {
    status: (s: string) => line({ status: s }),
    line,
    /** Ends the stream; a failure after the header is Docker's error line. */
    finish(e?: unknown): void {
      if (e === undefined) return void c.res.end();
      if (!started) throw e;
      const { message } = toResponse(e);
      line({ errorDetail: { message }, error: message });
      c.res.end();
    },
  };
}

async function pull(c: Call): Promise<void> {
  if (c.query.str('fromSrc') !== undefined) throw badRequest('importing a root file system through the API is not supported: use isola import');
  const from = c.query.str('fromImage');
  if (!from) throw badRequest('fromImage is required');
  if (localName(from) !== from || parseReference(from).host === undefined) {
    throw new ApiError(404, `isola has no default registry, so ${localName(from)} is not pulled from Docker Hub: name the registry (HOST[:PORT]/NAME), or load or build the image`);
  }
  const tag = c.query.str('tag');
  const r = parseReference(from);
  const text = tag && !r.tag && !r.digest ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : from;
  parseReference(text);
  const platform = c.query.str('platform') ? parsePlatform(c.query.str('platform') ?? '') : HOST_PLATFORM;
  const { pullImage } = await import('../image/registry/pull.js');
  const cfg = c.api.engine.config;
  const p = progressStream(c);
  try {
    const res = await pullImage(c.api.engine.images(), text, {
      credentialsFile: cfg.credentialsFile, platform, haveZstd: which('zstd', cfg.searchPath) !== null, onStatus: p.status,
    });
    p.status(`Digest: ${res.digest}`);
    p.status(res.upToDate && res.downloaded === 0 ? `Status: Image is up to date for ${res.stored}` : `Status: Downloaded newer image for ${res.stored}`);
    p.finish();
  } catch (e) {
    p.finish(e);
  }
}

async function push(c: Call): Promise<void> {
  const name = c.params[0] ?? '';
  const tag = c.query.str('tag');
  const text = tag ? `${name}:${tag}` : name;
  parseReference(text);
  const { pushImage } = await import('../image/registry/push.js');
  const cfg = c.api.engine.config;
  const p = progressStream(c);
  try {
    const r = await pushImage(c.api.engine.images(), text, { credentialsFile: cfg.credentialsFile, chunkAbove: cfg.pushChunkAbove, onStatus: p.status });
    p.status(`${r.tag}: digest: ${r.digest} size: ${r.size}`);
    p.line({ progressDetail: {}, aux: { Tag: r.tag, Digest: r.digest, Size: r.size } });
    p.finish();
  } catch (e) {
    p.finish(e);
  }
}

async function tag(c: Call): Promise<void> {
  const { refs } = await resolveName(c, c.params[0] ?? '');
  const repo = c.query.str('repo');
  if (!repo) throw badRequest('repo is required');
  const t = c.query.str('tag');
  const target = localName(t ? `${repo}:${t}` : repo);
  const parsed = parseReference(target);
  if (parsed.digest) throw badRequest(`cannot tag to a digest (${target})`);
  const store = c.api.engine.images();
  const desc = store.findDescriptor(refs[0] ?? '');
  if (!desc) throw new ApiError(404, `No such image: ${refs[0]}`);
  await store.tagDescriptor(target, desc);
  c.res.writeHead(201, { 'Content-Length': 0 });
  c.res.end();
}

async function remove(c: Call): Promise<void> {
  const text = c.params[0] ?? '';
  const { refs, digest } = await resolveName(c, text);
  const byId = /^(?:sha256:)?[a-f0-9]{12,64}$/.test(text);
  const force = c.query.bool('force');
  if (byId && refs.length > 1 && !force) throw new ApiError(409, `conflict: unable to delete ${text} (must be forced) - image is referenced in multiple repositories`);
  const e = c.api.engine;
  const out: Record<string, string>[] = [];
  for (const ref of byId ? refs : refs.slice(0, 1)) {
    const users = e.instances.list().filter((r) => r.imageRef === ref);
    if (users.length > 0 && !force) throw new ApiError(409, `conflict: unable to remove repository reference "${ref}" (must force) - container ${users[0]?.id.slice(0, 12)} is using its referenced image ${digest.slice(7, 19)}`);
    const removed = await e.images().remove(ref);
    out.push({ Untagged: ref });
    if (!e.images().list().some((i) => i.digest === removed)) out.push({ Deleted: removed });
  }
  sendJson(c.res, 200, out);
}

async function save(c: Call, names: string[]): Promise<void> {
  if (names.length === 0) throw badRequest('names is required');
  const refs: string[] = [];
  for (const n of names) refs.push(...(await resolveName(c, n)).refs.slice(0, 1));
  const { saveArchive } = await import('../image/archive/save.js');
  c.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
  await saveArchive(c.api.engine.images(), refs, 'docker-archive', c.res);
  c.res.end();
}

async function load(c: Call): Promise<void> {
  const { loadArchive } = await import('../image/archive/load.js');
  let loaded: string[];
  try {
    loaded = await loadArchive(c.api.engine.images(), c.req, 'the archive in the request');
  } catch (e) {
    // A broken archive is the client's input, not the store's: 400.
    if (isIsolaError(e, 'CORRUPT') || isIsolaError(e, 'UNSAFE')) throw badRequest(e.oneLine());
    throw e;
  }
  if (loaded.length === 0) throw badRequest('the archive held no image');
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  for (const n of loaded) c.res.write(`${JSON.stringify({ stream: `Loaded image: ${n}\n` })}\n`);
  c.res.end();
}

export function register(r: Router): void {
  r.add('GET', '/images/json', list)
    .add('POST', '/images/create', pull)
    .add('GET', '/images/get', (c) => save(c, c.query.all('names')))
    .add('POST', '/images/load', load)
    .add('GET', `/images/${IMAGE}/json`, inspect)
    .add('GET', `/images/${IMAGE}/history`, history)
    .add('GET', `/images/${IMAGE}/get`, (c) => save(c, [c.params[0] ?? '']))
    .add('POST', `/images/${IMAGE}/push`, push)
    .add('POST', `/images/${IMAGE}/tag`, tag)
    .add('DELETE', `/images/${IMAGE}`, remove);
}
