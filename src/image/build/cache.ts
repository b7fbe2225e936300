import { createHash } from 'node:crypto';
import type { ImageStore } from '../store.js';
import { sha256 } from '../digest.js';
import { MT_CONFIG, MT_DOCKER_LAYER, MT_LAYER_GZIP, MT_LAYER_TAR, MT_MANIFEST, type Descriptor, type ImageConfig, type Manifest } from '../layout.js';
import type { Step } from './steps.js';

/**
 * The build cache is made of images: every step's result is stored as an image (manifest,
 * config and layers in the store, like any other) named `isola-build-cache:<key>`, where the
 * key is a sha256 of the parent image's manifest digest (its layer chain and config), the step
 * as planned (instruction, expanded values, environment, user, folder, network) and its inputs
 * (the content digest of what a COPY copies, or the source stage's image digest). So:
 *
 * - a hit is one name lookup, and the cached image is the exact state the step left, with the
 *   history times of the build that made it: a fully cached rebuild gives the same digest;
 * - cached layers are ordinary image blobs, kept by the store's garbage collection as long as
 *   the name exists, and removed with it (`isola builder prune`);
 * - a RUN starts its container from the parent image by this name, through the Engine.
 *
 * `isola images` hides these names (Docker hides its intermediate images the same way).
 */
export const BUILD_CACHE_REPO = 'isola-build-cache';

export function isBuildCacheRef(ref: string): boolean {
  return ref.startsWith(`${BUILD_CACHE_REPO}:`) || ref.startsWith(`${BUILD_CACHE_REPO}@`);
}

/** An image during a build: the base, a cached step's result, or a new one. */
export interface ImageState {
  /** The name the store knows it by (for the Engine), or null for scratch. */
  ref: string | null;
  /** Manifest digest; 'scratch' for the empty start of a FROM scratch stage. */
  digest: string;
  manifest: Manifest;
  config: ImageConfig;
}

export function scratchState(): ImageState {
  return {
    ref: null, digest: 'scratch',
    manifest: { schemaVersion: 2, mediaType: MT_MANIFEST, config: { mediaType: MT_CONFIG, digest: '', size: 0 }, layers: [] },
    config: { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] },
  };
}

/** Bump when the meaning of a cached step changes, so old entries stop matching. */
const KEY_VERSION = 1;

/** The cache key of a step on a parent: what the step does and reads, never where it is written. */
export function stepKey(parentDigest: string, step: Step, inputs: Record<string, string>, epoch: number | undefined): string {
  const { line: _line, text: _text, ...what } = step;
  const doc = JSON.stringify({ v: KEY_VERSION, parent: parentDigest, step: what, inputs, epoch: epoch ?? null });
  return `sha256:${createHash('sha256').update(doc).digest('hex')}`;
}

export function cacheRef(key: string): string {
  return `${BUILD_CACHE_REPO}:${key.slice(7)}`;
}

/** The image a step's key names, when the cache has it whole. */
export function lookup(store: ImageStore, key: string): ImageState | undefined {
  const ref = cacheRef(key);
  const desc = store.findDescriptor(ref);
  if (!desc) return undefined;
  try {
    const { manifest } = store.imageManifest(desc);
    const config = JSON.parse(store.readVerified(manifest.config.digest, 'config').toString('utf8')) as ImageConfig;
    if (!manifest.layers.every((l) => store.hasBlob(l.digest))) return undefined;
    return { ref, digest: desc.digest, manifest, config };
  } catch {
    return undefined; // a damaged entry is a miss; the step runs again and replaces it
  }
}

/** Holds every blob the build reads or writes until the build ends (ImageStore.lease). */
export class BuildLease {
  private readonly releases: (() => void)[] = [];
  private readonly held = new Set<string>();

  constructor(private readonly store: ImageStore) {}

  add(digests: Iterable<string>): void {
    const fresh = [...digests].filter((d) => d.startsWith('sha256:') && !this.held.has(d));
    if (fresh.length === 0) return;
    for (const d of fresh) this.held.add(d);
    this.releases.push(this.store.lease(fresh));
  }

  holdImage(s: ImageState): void {
    if (s.ref === null) return;
    this.add([s.digest, s.manifest.config.digest, ...s.manifest.layers.map((l) => l.digest)]);
  }

  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}

/** Docker's layer types have OCI twins with the same bytes; a built image is all OCI. */
function ociLayer(d: Descriptor): Descriptor {
  const mediaType = d.mediaType === MT_DOCKER_LAYER ? MT_LAYER_GZIP : d.mediaType === 'application/vnd.docker.image.rootfs.diff.tar' ? MT_LAYER_TAR : d.mediaType;
  return { mediaType, digest: d.digest, size: d.size };
}

/** Stores the image a step made (parent + optional layer + the step's config) under its key. */
export async function commitStep(store: ImageStore, lease: BuildLease, key: string, parent: ImageState, step: Step, layer: { desc: Descriptor; diffId: string } | null, created: string): Promise<ImageState> {
  const config: ImageConfig = {
    created,
    architecture: 'amd64',
    os: 'linux',
    ...(step.author !== undefined ? { author: step.author } : {}),
    config: step.config,
    rootfs: { type: 'layers', diff_ids: [...parent.config.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
    history: [...(parent.config.history ?? []), { created, created_by: step.createdBy, ...(layer ? {} : { empty_layer: true }) }],
  };
  const configDigest = sha256(Buffer.from(JSON.stringify(config)));
  lease.add([configDigest]);
  const cfg = store.putJson(config);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MT_MANIFEST,
    config: { mediaType: MT_CONFIG, digest: cfg.digest, size: cfg.size },
    layers: [...parent.manifest.layers.map(ociLayer), ...(layer ? [layer.desc] : [])],
  };
  lease.add([sha256(Buffer.from(JSON.stringify(manifest)))]);
  const ref = cacheRef(key);
  const desc = await store.tag(ref, manifest);
  return { ref, digest: desc.digest, manifest, config };
}
