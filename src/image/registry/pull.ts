import fs from 'node:fs';
import { IsolaError } from '../../core/errors.js';
import { mapLimit } from '../../util/pool.js';
import { MT_LAYER_ZSTD, type Descriptor, type ImageConfig } from '../layout.js';
import { assertPlatform, selectManifest, type Platform } from '../platform.js';
import { shortId, type ProgressSink } from '../progress.js';
import { formatRef } from '../ref.js';
import type { ImageStore } from '../store.js';
import { fetchBlob } from './blob-fetch.js';
import { fetchManifest, parseManifest, type FetchedManifest } from './manifest.js';
import { openRemote, type RegistryOptions } from './session.js';

/** The annotation that remembers where a stored image came from, so a push to another repository of the same registry can mount its blobs. */
export const SOURCE_ANNOTATION = 'io.isola.image.source';

/** Docker downloads three layers at a time: enough to fill a link, few enough to finish some early. */
const PARALLEL = 3;

export interface PullOptions extends RegistryOptions {
  platform: Platform;
  /** Is `zstd` installed (zstd layers are decompressed by it)? */
  haveZstd: boolean;
  onProgress?: ProgressSink;
  /** Docker's header lines: "1.0: Pulling from app". */
  onStatus?: (line: string) => void;
}

export interface PullResult {
  /** The name it is stored under: host/repo:tag or host/repo@digest. */
  stored: string;
  /** The digest the registry has for the reference (the index's, for a multi-platform image). */
  digest: string;
  /** The manifest stored (the platform's own). */
  manifestDigest: string;
  downloaded: number;
  upToDate: boolean;
}

/**
 * `isola pull`: manifest (an index is resolved to the platform's manifest), config and layers
 * into the store, every blob verified while it streams, layers three at a time; the name is
 * written last, so an interrupted pull leaves no image, only resumable partial downloads.
 */
export async function pullImage(store: ImageStore, text: string, o: PullOptions): Promise<PullResult> {
  const { ref, name, client } = openRemote(text, 'pull', o);
  const report = o.onProgress ?? (() => undefined);
  try {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const stored = formatRef({ name, tag: ref.tag ?? 'latest', ...(ref.digest ? { digest: ref.digest } : {}) });
    o.onStatus?.(`${ref.digest ?? ref.tag ?? 'latest'}: Pulling from ${ref.repository}`);
    const top = await fetchManifest(client, ref.repository, reference, `manifest ${stored}`);
    let chosen: FetchedManifest = top;
    let parsed = parseManifest(top, `manifest ${stored}`);
    let platform: Descriptor['platform'];
    if (parsed.kind === 'index') {
      const entry = selectManifest(parsed.index.manifests, o.platform, `the index of ${stored}`);
      platform = entry.platform;
      chosen = await fetchManifest(client, ref.repository, entry.digest, `manifest ${name}@${entry.digest.slice(0, 19)} (${stored} for ${platform ? `${platform.os}/${platform.architecture}` : 'the platform'})`);
      if (chosen.digest !== entry.digest) throw new IsolaError('CORRUPT', `manifest ${entry.digest.slice(0, 19)} does not match its digest`, 'nothing was stored');
      parsed = parseManifest(chosen, `manifest ${entry.digest.slice(0, 19)} of ${stored}`);
      if (parsed.kind !== 'image') throw new IsolaError('INVALID_ARGUMENT', `the index of ${stored} points at another index`, 'nested indexes are not supported; pull the platform manifest by digest');
    }
    const manifest = parsed.manifest;
    if (!o.haveZstd && manifest.layers.some((l) => l.mediaType === MT_LAYER_ZSTD || l.mediaType.endsWith('+zstd'))) {
      throw new IsolaError('UNAVAILABLE', `${stored} has zstd-compressed layers, and the zstd program is not installed`, 'install it (apt-get install zstd) and pull again');
    }
    const previous = store.findDescriptor(stored);
    const blobs = [manifest.config, ...manifest.layers].filter((d, i, all) => all.findIndex((x) => x.digest === d.digest) === i);
    const release = store.lease([chosen.digest, ...blobs.map((b) => b.digest)]);
    try {
      const fetchOpts = { name, ...(o.onProgress ? { onProgress: o.onProgress } : {}) };
      // The config is metadata: fetched first (its platform decides whether to go on), not displayed.
      await fetchBlob(client, store, ref.repository, manifest.config, { name });
      const config = JSON.parse(store.readVerified(manifest.config.digest, 'config').toString('utf8')) as ImageConfig;
      assertPlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }, o.platform, stored);
      if ((config.rootfs?.diff_ids ?? []).length !== manifest.layers.length) {
        throw new IsolaError('CORRUPT', `the config of ${stored} lists ${config.rootfs?.diff_ids?.length ?? 0} layers, its manifest ${manifest.layers.length}`, 'the image is damaged in the registry; nothing was stored');
      }
      const layers = blobs.filter((b) => b.digest !== manifest.config.digest);
      for (const l of layers) report({ id: shortId(l.digest), status: store.hasBlob(l.digest) ? 'Already exists' : 'Waiting', total: l.size });
      const results = await mapLimit(layers, PARALLEL, async (l, _i, signal) => {
        const r = await fetchBlob(client, store, ref.repository, l, { ...fetchOpts, signal });
        report({ id: shortId(l.digest), status: r === 'exists' ? 'Already exists' : 'Pull complete', current: l.size, total: l.size });
        return r;
      });
      const desc = store.putManifest(chosen.bytes, chosen.mediaType);
      await store.tagDescriptor(stored, { ...desc, annotations: { [SOURCE_ANNOTATION]: name }, ...(platform ? { platform } : {}) });
      return {
        stored, digest: top.digest, manifestDigest: chosen.digest,
        downloaded: results.filter((r) => r === 'downloaded').length,
        upToDate: previous?.digest === chosen.digest,
      };
    } finally {
      release();
    }
  } finally {
    await client.close();
  }
}

/** Partial downloads (pulls that were interrupted), for `system df` and tests. */
export function partialDownloads(store: ImageStore): string[] {
  const dir = `${store.dir}/blobs`;
  return fs.readdirSync(dir).filter((f) => f.startsWith('.partial-') && !f.endsWith('.lock'));
}
