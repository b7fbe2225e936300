import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IsolaError, invalid } from '../../core/errors.js';
import { compressionOf, openUncompressed } from '../compression.js';
import { MT_INDEX, REF_ANNOTATION, type Descriptor, type ImageConfig } from '../layout.js';
import { normalizeRef } from '../ref.js';
import type { ImageStore } from '../store.js';
import { CONTAINERD_NAME } from './load.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';
export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = ['docker-archive', 'oci-archive'];

/** The images to save, grouped by manifest: several names of one image share its entry. */
function collect(store: ImageStore, refs: string[]) {
  const byManifest = new Map<string, { names: string[]; desc: Descriptor }>();
  for (const r of refs) {
    const name = normalizeRef(r);
    const desc = store.findDescriptor(name);
    if (!desc) throw new IsolaError('NOT_FOUND', `image "${r}" not found`, 'list images with isola images');
    const e = byManifest.get(desc.digest) ?? { names: [], desc };
    if (!e.names.includes(name)) e.names.push(name);
    byManifest.set(desc.digest, e);
  }
  return [...byManifest.values()];
}

/** Hard-links a stored blob into the staging folder (same file system: no copy). */
function linkBlob(store: ImageStore, digest: string, dest: string): void {
  if (fs.existsSync(dest)) return;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  try {
    fs.linkSync(store.blobPath(digest), dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new IsolaError('CORRUPT', `blob ${digest.slice(0, 19)} is missing from the image store`, 'remove the image (isola rmi) and add it again');
    throw e;
  }
}

/**
 * A layer as the uncompressed tar a docker-archive holds, checked against the diff_id its
 * config lists on the way (a stored layer that decompresses to something else is corrupt).
 */
async function uncompressedLayer(store: ImageStore, d: Descriptor, diffId: string, dest: string): Promise<void> {
  if (fs.existsSync(dest)) return;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  if ((await compressionOf(store.blobPath(d.digest))) === 'none' && d.digest === diffId) return linkBlob(store, d.digest, dest);
  const h = createHash('sha256');
  await pipeline(await openUncompressed(store.blobPath(d.digest)), new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
  }), fs.createWriteStream(dest));
  if (`sha256:${h.digest('hex')}` !== diffId) throw new IsolaError('CORRUPT', `layer ${d.digest.slice(0, 19)} does not decompress to the diff_id its config lists`, 'remove the image (isola rmi) and add it again');
}

/**
 * docker-archive in Docker's classic layout, which every Docker and podman loads:
 * manifest.json, repositories, `<config hex>.json`, and `<diff_id hex>/layer.tar` uncompressed.
 */
async function stageDocker(store: ImageStore, images: ReturnType<typeof collect>, stage: string): Promise<string[]> {
  const manifestJson: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { names, desc } of images) {
    const { manifest } = store.imageManifest(desc);
    const config = JSON.parse(store.readVerified(manifest.config.digest, 'config').toString('utf8')) as ImageConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) throw new IsolaError('CORRUPT', `image ${names[0]}: config and manifest disagree on the number of layers`, 'remove the image (isola rmi) and add it again');
    const cfgName = `${manifest.config.digest.slice(7)}.json`;
    linkBlob(store, manifest.config.digest, path.join(stage, cfgName));
    const layers: string[] = [];
    for (const [i, l] of manifest.layers.entries()) {
      const p = `${(diffIds[i] ?? '').slice(7)}/layer.tar`;
      await uncompressedLayer(store, l, diffIds[i] ?? '', path.join(stage, p));
      layers.push(p);
    }
    const tags = names.filter((n) => !n.includes('@'));
    manifestJson.push({ Config: cfgName, RepoTags: tags, Layers: layers });
    for (const t of tags) {
      const c = t.lastIndexOf(':');
      (repositories[t.slice(0, c)] ??= {})[t.slice(c + 1)] = (diffIds[diffIds.length - 1] ?? '').slice(7);
    }
  }
  fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify(manifestJson));
  fs.writeFileSync(path.join(stage, 'repositories'), JSON.stringify(repositories));
  return fs.readdirSync(stage);
}

/** oci-archive: an OCI image layout, blobs as stored, one index entry per name. */
function stageOci(store: ImageStore, images: ReturnType<typeof collect>, stage: string): string[] {
  const manifests: Descriptor[] = [];
  for (const { names, desc } of images) {
    const { digest, manifest } = store.imageManifest(desc);
    const mediaType = digest === desc.digest ? desc.mediaType : String((JSON.parse(store.readVerified(digest, 'manifest').toString('utf8')) as { mediaType?: string }).mediaType);
    const size = fs.statSync(store.blobPath(digest)).size;
    for (const b of [digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) linkBlob(store, b, path.join(stage, 'blobs', 'sha256', b.slice(7)));
    for (const n of names) manifests.push({ mediaType, digest, size, annotations: { [REF_ANNOTATION]: n, [CONTAINERD_NAME]: n }, platform: desc.platform ?? { os: 'linux', architecture: 'amd64' } });
  }
  fs.writeFileSync(path.join(stage, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(stage, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT_INDEX, manifests }));
  return ['oci-layout', 'index.json', 'blobs'];
}

/**
 * `isola save`: writes the images as one tar to `out`. The archive is staged in the store's
 * temp area with hard links to the blobs, so only layers that must be decompressed (docker-archive)
 * take space, and is removed afterwards.
 */
export async function saveArchive(store: ImageStore, refs: string[], format: ArchiveFormat, out: Writable): Promise<void> {
  if (!ARCHIVE_FORMATS.includes(format)) throw invalid(`unknown archive format "${format}"`, `use ${ARCHIVE_FORMATS.join(' or ')}`);
  if (refs.length === 0) throw invalid('no image to save', 'name at least one image');
  const images = collect(store, refs);
  const stage = store.tempPath();
  fs.mkdirSync(stage);
  try {
    const entries = format === 'docker-archive' ? await stageDocker(store, images, stage) : stageOci(store, images, stage);
    const { create } = await import('tar');
    // portable: no owner names or host-specific times, as docker save writes.
    await pipeline(create({ cwd: stage, portable: true }, entries), out);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
