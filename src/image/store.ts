import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IsolaError, notFound } from '../core/errors.js';
import type { ResolvedImage } from '../core/types.js';
import { assertDigest, sha256 } from './digest.js';
import { withDirLock } from '../util/lock.js';
import { readJson, writeFileAtomic } from '../util/fsx.js';
import { MT_INDEX, MT_MANIFEST, REF_ANNOTATION, type Descriptor, type ImageConfig, type Index, type Manifest } from './layout.js';
import { normalizeRef } from './ref.js';

export interface ImageSummary {
  ref: string;
  digest: string;
  /** Sum of the compressed layer sizes plus config and manifest: what the image takes in the store. */
  size: number;
  created: string | undefined;
  layers: number;
}

/**
 * An OCI image layout (image-layout spec v1.0.0) on disk, content addressed by sha256, with
 * the `org.opencontainers.image.ref.name` annotation of index.json as the name:tag index, so
 * skopeo and umoci can read and write the same folder (`oci:DIR:name:tag`).
 */
export class ImageStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    if (!fs.existsSync(path.join(dir, 'oci-layout'))) writeFileAtomic(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (!fs.existsSync(path.join(dir, 'index.json'))) writeFileAtomic(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT_INDEX, manifests: [] }));
  }

  blobPath(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', assertDigest(digest).slice(7));
  }

  /** A temp file name inside the store, on the same file system as the blobs (for rename). */
  tempPath(): string {
    return path.join(this.dir, 'blobs', `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /** Moves a file whose digest the caller computed into place. */
  commitBlob(tempFile: string, digest: string): void {
    const dest = this.blobPath(digest);
    if (fs.existsSync(dest)) fs.rmSync(tempFile, { force: true });
    else fs.renameSync(tempFile, dest);
  }

  putJson(doc: unknown): { digest: string; size: number } {
    const data = Buffer.from(JSON.stringify(doc));
    const digest = sha256(data);
    const dest = this.blobPath(digest);
    if (!fs.existsSync(dest)) writeFileAtomic(dest, data, 0o644);
    return { digest, size: data.length };
  }

  /** Reads a blob and checks that its content still matches its digest. */
  readVerified(digest: string, what: string): Buffer {
    let data: Buffer;
    try {
      data = fs.readFileSync(this.blobPath(digest));
    } catch {
      throw new IsolaError('CORRUPT', `${what} blob ${digest.slice(0, 19)} is missing from the image store`, 'remove the image (isola rmi) and add it again');
    }
    if (sha256(data) !== digest) {
      throw new IsolaError('CORRUPT', `${what} blob ${digest.slice(0, 19)} does not match its digest (the file was changed or damaged)`, 'remove the image (isola rmi) and add it again');
    }
    return data;
  }

  readIndex(): Index {
    return readJson<Index>(path.join(this.dir, 'index.json'));
  }

  private async updateIndex(fn: (index: Index) => void): Promise<void> {
    await withDirLock(path.join(this.dir, 'index.lock'), () => {
      const index = this.readIndex();
      fn(index);
      writeFileAtomic(path.join(this.dir, 'index.json'), JSON.stringify(index, null, 2));
    });
  }

  /** Stores a manifest (and points name:tag at it, replacing what it pointed at). */
  async tag(ref: string, manifest: Manifest): Promise<Descriptor> {
    const name = normalizeRef(ref);
    const { digest, size } = this.putJson(manifest);
    const desc: Descriptor = { mediaType: MT_MANIFEST, digest, size, annotations: { [REF_ANNOTATION]: name }, platform: { architecture: 'amd64', os: 'linux' } };
    await this.updateIndex((index) => {
      index.manifests = index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] !== name);
      index.manifests.push(desc);
    });
    return desc;
  }

  findDescriptor(ref: string): Descriptor | undefined {
    const name = normalizeRef(ref);
    return this.readIndex().manifests.find((m) => m.annotations?.[REF_ANNOTATION] === name);
  }

  manifestOf(ref: string): { desc: Descriptor; manifest: Manifest; config: ImageConfig } {
    const desc = this.findDescriptor(ref);
    if (!desc) throw notFound(`image "${ref}" not found`, 'list images with isola images, or add it with isola import, pull or build');
    const manifest = JSON.parse(this.readVerified(desc.digest, 'manifest').toString('utf8')) as Manifest;
    const config = JSON.parse(this.readVerified(manifest.config.digest, 'config').toString('utf8')) as ImageConfig;
    return { desc, manifest, config };
  }

  resolve(ref: string): ResolvedImage {
    const { desc, manifest, config } = this.manifestOf(ref);
    const c = config.config ?? {};
    return {
      ref: normalizeRef(ref),
      digest: desc.digest,
      layers: manifest.layers.map((l) => this.blobPath(l.digest)),
      layerDigests: manifest.layers.map((l) => l.digest),
      config: {
        env: c.Env ?? [],
        entrypoint: c.Entrypoint ?? [],
        cmd: c.Cmd ?? [],
        workingDir: c.WorkingDir || '/',
        user: c.User ?? '',
      },
    };
  }

  list(): ImageSummary[] {
    const out: ImageSummary[] = [];
    for (const m of this.readIndex().manifests) {
      const ref = m.annotations?.[REF_ANNOTATION];
      if (!ref) continue;
      try {
        const manifest = readJson<Manifest>(this.blobPath(m.digest));
        const config = readJson<ImageConfig>(this.blobPath(manifest.config.digest));
        const size = m.size + manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0);
        out.push({ ref, digest: m.digest, size, created: config.created, layers: manifest.layers.length });
      } catch {
        out.push({ ref, digest: m.digest, size: 0, created: undefined, layers: 0 });
      }
    }
    return out.sort((a, b) => a.ref.localeCompare(b.ref));
  }

  /** Removes name:tag, then every blob no remaining manifest needs. */
  async remove(ref: string): Promise<string> {
    const name = normalizeRef(ref);
    let removed: Descriptor | undefined;
    await this.updateIndex((index) => {
      removed = index.manifests.find((m) => m.annotations?.[REF_ANNOTATION] === name);
      index.manifests = index.manifests.filter((m) => m !== removed);
    });
    if (!removed) throw notFound(`image "${ref}" not found`, 'list images with isola images');
    this.collectGarbage();
    return removed.digest;
  }

  /** Deletes blobs that no manifest in the index refers to. */
  collectGarbage(): void {
    const keep = new Set<string>();
    for (const m of this.readIndex().manifests) {
      keep.add(m.digest);
      try {
        const manifest = readJson<Manifest>(this.blobPath(m.digest));
        keep.add(manifest.config.digest);
        for (const l of manifest.layers) keep.add(l.digest);
      } catch {
        /* a damaged manifest keeps nothing alive */
      }
    }
    const dir = path.join(this.dir, 'blobs', 'sha256');
    for (const f of fs.readdirSync(dir)) if (!keep.has(`sha256:${f}`)) fs.rmSync(path.join(dir, f), { force: true });
  }
}

