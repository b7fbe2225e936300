import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IsolaError, notFound } from '../core/errors.js';
import type { ResolvedImage } from '../core/types.js';
import { assertDigest, sha256 } from './digest.js';
import { withDirLock } from '../util/lock.js';
import { processAlive } from '../util/process.js';
import { readJson, writeFileAtomic } from '../util/fsx.js';
import { INDEX_TYPES, MT_INDEX, MT_MANIFEST, REF_ANNOTATION, type Descriptor, type ImageConfig, type Index, type Manifest } from './layout.js';
import { normalizeRef } from './ref.js';
import { HOST_PLATFORM, selectManifest } from './platform.js';

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

  /**
   * Where an interrupted download of `digest` keeps what it has: inside the store's temp area,
   * named by the digest, so the next pull of the same blob resumes it with an HTTP Range request.
   */
  partialPath(digest: string): string {
    return path.join(this.dir, 'blobs', `.partial-${assertDigest(digest).slice(7)}`);
  }

  /**
   * Protects blobs that a pull, load or push in progress is storing from a concurrent
   * `rmi`'s garbage collection, until the returned function is called (containerd's leases).
   * A lease names its process, so one left by a killed process stops counting.
   */
  lease(digests: Iterable<string>): () => void {
    const file = path.join(this.dir, 'blobs', `.lease-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.writeFileSync(file, [...digests].join('\n'));
    return () => fs.rmSync(file, { force: true });
  }

  private leasedBlobs(): Set<string> {
    const out = new Set<string>();
    const dir = path.join(this.dir, 'blobs');
    for (const f of fs.readdirSync(dir)) {
      const m = /^\.lease-(\d+)-/.exec(f);
      if (!m) continue;
      if (!processAlive(Number(m[1]))) {
        fs.rmSync(path.join(dir, f), { force: true });
        continue;
      }
      try {
        for (const d of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) if (d) out.add(d);
      } catch {
        /* released meanwhile */
      }
    }
    return out;
  }

  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
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

  /**
   * Stores a manifest (or index) exactly as given: its digest is that of these bytes, which is
   * the registry's digest for a pulled image. Re-serialising would change it.
   */
  putManifest(bytes: Buffer, mediaType: string): Descriptor {
    const digest = sha256(bytes);
    const dest = this.blobPath(digest);
    if (!fs.existsSync(dest)) writeFileAtomic(dest, bytes, 0o644);
    return { mediaType, digest, size: bytes.length };
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
    const { digest, size } = this.putJson(manifest);
    return this.tagDescriptor(ref, { mediaType: MT_MANIFEST, digest, size });
  }

  /**
   * Points name:tag at a stored manifest or index. The descriptor keeps its real media type
   * (Docker's or OCI's) and its annotations, for readers such as skopeo that go by them; the
   * caller writes it last, after every blob it names is stored, so a name never points at a
   * partial image.
   */
  async tagDescriptor(ref: string, desc: Descriptor): Promise<Descriptor> {
    const name = normalizeRef(ref);
    if (!this.hasBlob(desc.digest)) throw new IsolaError('INTERNAL', `tagging ${name}: manifest ${desc.digest.slice(0, 19)} is not stored`);
    const tagged: Descriptor = {
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      annotations: { ...desc.annotations, [REF_ANNOTATION]: name },
      platform: desc.platform ?? { architecture: HOST_PLATFORM.architecture, os: HOST_PLATFORM.os },
    };
    await this.updateIndex((index) => {
      index.manifests = index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] !== name);
      index.manifests.push(tagged);
    });
    return tagged;
  }

  /**
   * The image manifest a stored descriptor names. An index (what skopeo may write into the
   * layout) is followed to its linux/amd64 entry: that is the image isola runs.
   */
  imageManifest(desc: Descriptor, verify = true): { digest: string; manifest: Manifest } {
    const read = (digest: string): Record<string, unknown> => JSON.parse((verify ? this.readVerified(digest, 'manifest') : fs.readFileSync(this.blobPath(digest))).toString('utf8')) as Record<string, unknown>;
    let digest = desc.digest;
    let doc = read(digest);
    if (INDEX_TYPES.includes(desc.mediaType) || Array.isArray(doc.manifests)) {
      digest = selectManifest((doc as unknown as Index).manifests, HOST_PLATFORM, `image index ${desc.digest.slice(0, 19)}`).digest;
      doc = read(digest);
    }
    const manifest = doc as unknown as Manifest;
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) {
      throw new IsolaError('CORRUPT', `manifest ${digest.slice(0, 19)} is not an image manifest (no config or layers)`, 'remove the image (isola rmi) and add it again');
    }
    return { digest, manifest };
  }

  findDescriptor(ref: string): Descriptor | undefined {
    const name = normalizeRef(ref);
    return this.readIndex().manifests.find((m) => m.annotations?.[REF_ANNOTATION] === name);
  }

  manifestOf(ref: string): { desc: Descriptor; manifest: Manifest; config: ImageConfig } {
    const desc = this.findDescriptor(ref);
    if (!desc) throw notFound(`image "${ref}" not found`, 'list images with isola images, or add it with isola import, pull or build');
    const { manifest } = this.imageManifest(desc);
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
        const { manifest } = this.imageManifest(m, false);
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
    const keep = this.leasedBlobs();
    for (const m of this.readIndex().manifests) {
      keep.add(m.digest);
      try {
        const doc = readJson<Partial<Manifest & Index>>(this.blobPath(m.digest));
        // An index keeps every manifest it lists, and each of those its config and layers.
        const manifests = Array.isArray(doc.manifests) ? doc.manifests.map((d) => d.digest) : [];
        for (const child of manifests) keep.add(child);
        for (const d of [m.digest, ...manifests]) {
          try {
            const manifest = readJson<Partial<Manifest>>(this.blobPath(d));
            if (manifest.config) keep.add(manifest.config.digest);
            for (const l of manifest.layers ?? []) keep.add(l.digest);
          } catch {
            /* a child of an index that was never stored (another platform) keeps nothing */
          }
        }
      } catch {
        /* a damaged manifest keeps nothing alive */
      }
    }
    const dir = path.join(this.dir, 'blobs', 'sha256');
    for (const f of fs.readdirSync(dir)) if (!keep.has(`sha256:${f}`)) fs.rmSync(path.join(dir, f), { force: true });
  }
}

