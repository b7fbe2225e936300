import type { ImageStore } from './store.js';
import { MT_CONFIG, MT_MANIFEST, type Descriptor, type ImageConfig, type Manifest } from './layout.js';

export interface NewImage {
  layers: { desc: Descriptor; diffId: string }[];
  config: NonNullable<ImageConfig['config']>;
  history: string;
  created?: string;
}

/** Writes config and manifest for a set of stored layers and points `ref` at the result. */
export async function commitImage(store: ImageStore, ref: string, img: NewImage): Promise<Descriptor> {
  const created = img.created ?? new Date().toISOString();
  const config: ImageConfig = {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: img.config,
    rootfs: { type: 'layers', diff_ids: img.layers.map((l) => l.diffId) },
    history: [{ created, created_by: img.history }],
  };
  const cfg = store.putJson(config);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MT_MANIFEST,
    config: { mediaType: MT_CONFIG, digest: cfg.digest, size: cfg.size },
    layers: img.layers.map((l) => l.desc),
  };
  return store.tag(ref, manifest);
}
