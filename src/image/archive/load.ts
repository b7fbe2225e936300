import fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { IsolaError, invalid } from '../../core/errors.js';
import { compressionOf, openUncompressed } from '../compression.js';
import { INDEX_TYPES, MT_CONFIG, MT_LAYER_GZIP, MT_LAYER_TAR, MT_LAYER_ZSTD, MT_MANIFEST, REF_ANNOTATION, type Descriptor, type ImageConfig, type Index, type Manifest } from '../layout.js';
import { HOST_PLATFORM, selectManifest } from '../platform.js';
import { normalizeRef } from '../ref.js';
import type { ImageStore } from '../store.js';
import { readArchive, type ArchiveFiles, type ArchivedFile } from './read-tar.js';

/** containerd's annotation for the full image name in an OCI layout (Docker 25+ writes it). */
export const CONTAINERD_NAME = 'io.containerd.image.name';

/** One entry of a docker-archive's manifest.json. */
interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** What a load will store, checked whole before anything is: blobs by digest, then names. */
interface Plan {
  blobs: Map<string, ArchivedFile>;
  images: { names: string[]; manifest: Buffer; mediaType: string }[];
}

async function diffIdOf(f: ArchivedFile): Promise<string> {
  if ((await compressionOf(f.tmp)) === 'none') return f.digest;
  const h = createHash('sha256');
  for await (const chunk of await openUncompressed(f.tmp)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

async function layerMediaType(f: ArchivedFile): Promise<string> {
  const c = await compressionOf(f.tmp);
  return c === 'gzip' ? MT_LAYER_GZIP : c === 'zstd' ? MT_LAYER_ZSTD : MT_LAYER_TAR;
}

function names(list: string[] | null | undefined, id: string): string[] {
  if (!list || list.length === 0) {
    throw invalid(`image ${id.slice(7, 19)} in the archive has no name, and isola keeps images by name`, 'save it by name (docker save NAME:TAG) and load that');
  }
  return list.map((n) => normalizeRef(n));
}

/**
 * docker-archive (what `docker save` and `podman save` write): manifest.json lists each image's
 * config and its layer tars, which Docker writes uncompressed. The config is stored byte for
 * byte (its digest is Docker's image id), each layer as it is in the archive with the media
 * type its bytes have, after checking that it unpacks to the diff_id the config lists.
 */
async function planDockerArchive(files: ArchiveFiles): Promise<Plan> {
  const entries = files.json<DockerArchiveEntry[]>('manifest.json');
  if (!Array.isArray(entries) || entries.length === 0) throw new IsolaError('CORRUPT', 'manifest.json of the archive lists no image', 'save the image again');
  const plan: Plan = { blobs: new Map(), images: [] };
  for (const e of entries) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw new IsolaError('CORRUPT', 'manifest.json of the archive is not a docker-archive manifest', 'save the image again');
    const cfgFile = files.need(e.Config);
    const config = files.json<ImageConfig>(e.Config);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== e.Layers.length) {
      throw new IsolaError('CORRUPT', `image ${cfgFile.digest.slice(7, 19)}: its config lists ${diffIds.length} layers, the archive ${e.Layers.length}`, 'the archive is damaged; save it again');
    }
    const layers: Descriptor[] = [];
    for (const [i, p] of e.Layers.entries()) {
      const f = files.need(p);
      const diffId = await diffIdOf(f);
      if (diffId !== diffIds[i]) {
        throw new IsolaError('CORRUPT', `layer ${p} of image ${cfgFile.digest.slice(7, 19)} does not match the diff_id its config lists`, 'the archive is damaged; save it again');
      }
      layers.push({ mediaType: await layerMediaType(f), digest: f.digest, size: f.size });
      plan.blobs.set(f.digest, f);
    }
    plan.blobs.set(cfgFile.digest, cfgFile);
    const manifest: Manifest = { schemaVersion: 2, mediaType: MT_MANIFEST, config: { mediaType: MT_CONFIG, digest: cfgFile.digest, size: cfgFile.size }, layers };
    plan.images.push({ names: names(e.RepoTags, cfgFile.digest), manifest: Buffer.from(JSON.stringify(manifest)), mediaType: MT_MANIFEST });
  }
  return plan;
}

/** A blob of an OCI layout, checked against the digest its path claims. */
function layoutBlob(files: ArchiveFiles, d: Descriptor): ArchivedFile {
  const f = files.need(`blobs/sha256/${d.digest.replace(/^sha256:/, '')}`);
  if (f.digest !== d.digest) throw new IsolaError('CORRUPT', `blob ${d.digest.slice(0, 19)} in the archive does not match its digest`, 'the archive is damaged; save it again');
  if (d.size !== undefined && f.size !== d.size) throw new IsolaError('CORRUPT', `blob ${d.digest.slice(0, 19)} in the archive is ${f.size} bytes, its descriptor says ${d.size}`, 'the archive is damaged; save it again');
  return f;
}

/**
 * oci-archive: an OCI image layout in a tar. Each index.json entry with a name (containerd's
 * full-name annotation, else org.opencontainers.image.ref.name) is an image; an index entry
 * is followed to its linux/amd64 manifest. Blobs and manifests are stored byte for byte.
 */
function planOciArchive(files: ArchiveFiles): Plan {
  const layout = files.json<{ imageLayoutVersion?: string }>('oci-layout');
  if (!layout.imageLayoutVersion) throw new IsolaError('CORRUPT', 'oci-layout in the archive names no imageLayoutVersion', 'the archive is damaged; save it again');
  const index = files.json<Index>('index.json');
  const plan: Plan = { blobs: new Map(), images: [] };
  const byDigest = new Map<string, { names: string[]; desc: Descriptor }>();
  for (const d of index.manifests ?? []) {
    const name = d.annotations?.[CONTAINERD_NAME] ?? d.annotations?.[REF_ANNOTATION];
    if (!name) continue;
    const e = byDigest.get(d.digest) ?? { names: [], desc: d };
    e.names.push(normalizeRef(name));
    byDigest.set(d.digest, e);
  }
  if (byDigest.size === 0) throw invalid('the OCI archive has no named image (no org.opencontainers.image.ref.name annotation)', 'save it with a name, for example skopeo copy ... oci-archive:FILE:NAME:TAG');
  for (const { names: n, desc } of byDigest.values()) {
    let m = desc;
    let f = layoutBlob(files, m);
    if (INDEX_TYPES.includes(m.mediaType)) {
      plan.blobs.set(f.digest, f);
      m = selectManifest(files.json<Index>(`blobs/sha256/${m.digest.slice(7)}`).manifests, HOST_PLATFORM, `index ${m.digest.slice(0, 19)} in the archive`);
      f = layoutBlob(files, m);
    }
    const manifest = files.json<Manifest>(`blobs/sha256/${m.digest.slice(7)}`);
    if (!manifest.config || !Array.isArray(manifest.layers)) throw new IsolaError('CORRUPT', `manifest ${m.digest.slice(0, 19)} in the archive is not an image manifest`, 'the archive is damaged; save it again');
    for (const b of [manifest.config, ...manifest.layers]) plan.blobs.set(b.digest, layoutBlob(files, b));
    plan.blobs.set(f.digest, f);
    plan.images.push({ names: n, manifest: fs.readFileSync(f.tmp), mediaType: m.mediaType || MT_MANIFEST });
  }
  return plan;
}

/**
 * `isola load`: reads a docker-archive or an oci-archive (plain or gzip) and stores its images.
 * Everything is checked first (tar readable to the end, every blob's digest, every layer's
 * diff_id); blobs are committed only then and names written last, so a truncated or foreign
 * archive stores nothing.
 */
export async function loadArchive(store: ImageStore, input: Readable, what: string): Promise<string[]> {
  const files = await readArchive(input, store, what);
  try {
    let plan: Plan;
    if (files.get('manifest.json')) plan = await planDockerArchive(files);
    else if (files.get('index.json') && files.get('oci-layout')) plan = planOciArchive(files);
    else throw invalid(`${what} is a tar archive but not an image archive (no manifest.json, no index.json with oci-layout)`, 'load what docker save, podman save or isola save wrote');
    const release = store.lease([...plan.blobs.keys(), ...plan.images.map((i) => createHash('sha256').update(i.manifest).digest('hex')).map((h) => `sha256:${h}`)]);
    try {
      for (const [digest, f] of plan.blobs) store.commitBlob(f.tmp, digest);
      const loaded: string[] = [];
      for (const img of plan.images) {
        const desc = store.putManifest(img.manifest, img.mediaType);
        for (const n of img.names) {
          await store.tagDescriptor(n, desc);
          loaded.push(n);
        }
      }
      return loaded;
    } finally {
      release();
    }
  } finally {
    files.dispose();
  }
}
