import { IsolaError, notFound } from '../../core/errors.js';
import { mapLimit } from '../../util/pool.js';
import { INDEX_TYPES, MT_MANIFEST } from '../layout.js';
import { shortId, type ProgressSink } from '../progress.js';
import { normalizeRef } from '../ref.js';
import type { ImageStore } from '../store.js';
import { repositoryScope } from './auth.js';
import { pushBlob } from './blob-upload.js';
import { SOURCE_ANNOTATION } from './pull.js';
import { openRemote, type RegistryOptions } from './session.js';

const PARALLEL = 3;

export interface PushOptions extends RegistryOptions {
  /** Blobs above this size go up in chunks. */
  chunkAbove?: number;
  onProgress?: ProgressSink;
  onStatus?: (line: string) => void;
}

export interface PushResult {
  tag: string;
  digest: string;
  size: number;
}

/**
 * `isola push HOST/REPO[:TAG]`: the local image of exactly that name goes to that registry,
 * repository and tag (Docker's rule: tag it first with `isola tag`). Blobs first, three at a
 * time; the manifest, byte for byte as stored (so its digest stays the same), last.
 */
export async function pushImage(store: ImageStore, text: string, o: PushOptions): Promise<PushResult> {
  const { ref, name, client } = openRemote(text, 'push', o);
  try {
    if (ref.digest) throw new IsolaError('INVALID_ARGUMENT', `cannot push to a digest (${text})`, 'push to a tag: host/repository[:tag]');
    const tag = ref.tag ?? 'latest';
    const local = normalizeRef(text);
    const desc = store.findDescriptor(local);
    if (!desc) throw notFound(`no local image named ${local}`, `give an image that name first: isola tag IMAGE ${local}`);
    const { digest, manifest } = store.imageManifest(desc);
    const bytes = store.readVerified(digest, 'manifest');
    const mediaType = INDEX_TYPES.includes(desc.mediaType) ? String((JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? MT_MANIFEST) : desc.mediaType;
    const source = desc.annotations?.[SOURCE_ANNOTATION];
    const mountFrom = source && source.startsWith(`${ref.host}/`) ? source.slice(ref.host.length + 1) : undefined;
    o.onStatus?.(`The push refers to repository [${name}]`);
    const blobs = [...manifest.layers, manifest.config].filter((d, i, all) => all.findIndex((x) => x.digest === d.digest) === i);
    for (const b of blobs) if (!store.hasBlob(b.digest)) throw new IsolaError('CORRUPT', `blob ${shortId(b.digest)} of ${local} is missing from the store`, 'pull or load the image again');
    const report = o.onProgress ?? (() => undefined);
    for (const b of blobs) report({ id: shortId(b.digest), status: 'Preparing', total: b.size });
    await mapLimit(blobs, PARALLEL, async (b, _i, signal) => {
      const r = await pushBlob(client, store, ref.repository, b, { name, signal, ...(mountFrom ? { mountFrom } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}), ...(o.chunkAbove ? { chunkAbove: o.chunkAbove } : {}) });
      report({ id: shortId(b.digest), status: r === 'exists' ? 'Layer already exists' : r === 'mounted' ? `Mounted from ${mountFrom}` : 'Pushed', current: b.size, total: b.size });
    });
    const res = await client.call({
      method: 'PUT', url: `/v2/${ref.repository}/manifests/${tag}`, scopes: [repositoryScope(ref.repository, ['pull', 'push'])],
      headers: { 'content-type': mediaType }, body: () => bytes, ok: [201], what: `manifest ${name}:${tag}`,
    });
    await res.body.dump();
    const theirs = res.headers['docker-content-digest'];
    if (typeof theirs === 'string' && theirs !== digest) {
      throw new IsolaError('CORRUPT', `${ref.host} stored manifest ${name}:${tag} as ${theirs.slice(0, 19)}, not ${digest.slice(0, 19)}`, 'the registry rewrote the manifest; check it with skopeo inspect');
    }
    return { tag, digest, size: bytes.length };
  } finally {
    await client.close();
  }
}
