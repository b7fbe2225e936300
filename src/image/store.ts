import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import { IsolaError, notFound } from '../core/errors.js';
import type { ResolvedImage } from '../core/types.js';
import { assertDigest, sha256 } from './digest.js';
import { lockHeld, withLock, withLockSync } from '../util/lock.js';
import { processAlive, processRef } from '../util/process.js';
import { readJson, writeFileAtomic } from '../util/fsx.js';
import { INDEX_TYPES, MT_INDEX, MT_MANIFEST, REF_ANNOTATION, type Descriptor, type ImageConfig, type Index, type Manifest } from './layout.js';
import { normalizeRef } from './ref.js';
import { HOST_PLATFORM, selectManifest } from './platform.js';

interface LeaseState {
  file: string | null;
  digests: Set<string>;
}

function releaseState(lease: LeaseState): void {
  if (lease.file) fs.rmSync(lease.file, { force: true });
  lease.file = null;
  lease.digests.clear();
}

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
   * Protects blobs from a concurrent `rmi`'s garbage collection while an operation works with
   * them, as containerd's leases do. Inside `withLease(fn)`, every blob this store commits
   * (layers, configs, manifests) is protected from the moment before it appears until fn ends,
   * by which time the operation has tagged what it keeps. `lease(digests)` protects blobs that
   * are already there or will be committed (a pull that finds a layer stored, a save).
   *
   * A lease is a file naming its process (pid, start time, boot): one left by a killed process
   * stops counting and is removed by the next collection. Leases are written under the index
   * lock, which collection holds throughout, so a blob is either seen as leased or appears
   * after the collection is done.
   */
  async withLease<T>(fn: () => Promise<T>): Promise<T> {
    const lease: LeaseState = { file: null, digests: new Set() };
    try {
      return await ImageStore.scope.run(lease, fn);
    } finally {
      releaseState(lease);
    }
  }

  /** Leases `digests` in the current withLease scope, or on their own until the returned function is called. */
  lease(digests: Iterable<string>): () => void {
    const scoped = ImageStore.scope.getStore();
    const lease = scoped ?? { file: null, digests: new Set<string>() };
    this.protect(lease, [...digests]);
    return scoped ? () => undefined : () => releaseState(lease);
  }

  private static readonly scope = new AsyncLocalStorage<LeaseState>();

  /** Adds to the current scope's lease; outside a scope a commit is the caller's to tag at once. */
  private protectInScope(digest: string): void {
    const lease = ImageStore.scope.getStore();
    if (lease) this.protect(lease, [digest]);
  }

  private protect(lease: LeaseState, digests: string[]): void {
    const fresh = digests.filter((d) => !lease.digests.has(d));
    if (fresh.length === 0) return;
    withLockSync(this.indexLock(), () => {
      if (!lease.file) {
        const me = processRef(process.pid);
        lease.file = path.join(this.dir, 'blobs', `.lease-${process.pid}-${randomBytes(4).toString('hex')}`);
        fs.writeFileSync(lease.file, `${me?.pid} ${me?.startTime} ${me?.bootId}\n`);
      }
      fs.appendFileSync(lease.file, fresh.map((d) => `${d}\n`).join(''));
      for (const d of fresh) lease.digests.add(d);
    });
  }

  /** Blobs under a live lease; leases of processes that are gone are removed. Call under the index lock. */
  private leasedBlobs(): Set<string> {
    const out = new Set<string>();
    const dir = path.join(this.dir, 'blobs');
    for (const f of fs.readdirSync(dir)) {
      if (!f.startsWith('.lease-')) continue;
      let lines: string[];
      try {
        lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
      } catch {
        continue; // released meanwhile
      }
      const [pid, startTime, bootId] = (lines[0] ?? '').split(' ');
      if (!processAlive({ pid: Number(pid), startTime: Number(startTime), bootId: bootId ?? '' })) {
        fs.rmSync(path.join(dir, f), { force: true });
        continue;
      }
      for (const d of lines.slice(1)) if (d) out.add(d);
    }
    return out;
  }

  private indexLock(): string {
    return path.join(this.dir, 'index.lock');
  }

  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  /** Moves a file whose digest the caller computed into place. */
  commitBlob(tempFile: string, digest: string): void {
    this.protectInScope(digest);
    const dest = this.blobPath(digest);
    if (fs.existsSync(dest)) fs.rmSync(tempFile, { force: true });
    else fs.renameSync(tempFile, dest);
  }

  putJson(doc: unknown): { digest: string; size: number } {
    const data = Buffer.from(JSON.stringify(doc));
    const digest = sha256(data);
    this.protectInScope(digest);
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
    this.protectInScope(digest);
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
    await withLock(this.indexLock(), () => {
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
        ...(c.Healthcheck ? { healthcheck: c.Healthcheck } : {}),
        ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
        ...(c.Labels && Object.keys(c.Labels).length > 0 ? { labels: c.Labels } : {}),
        exposedPorts: Object.keys(c.ExposedPorts ?? {}),
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

  /**
   * Deletes blobs that no manifest in the index refers to and no live lease protects, and the
   * temporary files of processes that are gone. Runs under the index lock from start to end.
   */
  collectGarbage(opts: { partials?: boolean } = {}): void {
    withLockSync(this.indexLock(), () => this.collectUnlocked(opts.partials ?? false));
  }

  /** `partials`: also interrupted downloads nobody is resuming now (system prune; rmi keeps them to resume). */
  private collectUnlocked(partials: boolean): void {
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
    // Temp files name their process: those of processes that are gone are leftovers.
    const tmpDir = path.join(this.dir, 'blobs');
    for (const f of fs.readdirSync(tmpDir)) {
      const pid = /^\.tmp-(\d+)-/.exec(f)?.[1];
      if (pid && !processAlive(Number(pid))) fs.rmSync(path.join(tmpDir, f), { recursive: true, force: true });
      // A download's lock comes before its partial file: a pull killed in between leaves the
      // lock alone, which goes the same way as a partial nobody is resuming.
      const partial = partials ? /^(\.partial-[0-9a-f]{64})(\.lock)?$/.exec(f)?.[1] : undefined;
      if (partial && !lockHeld(path.join(tmpDir, `${partial}.lock`))) {
        fs.rmSync(path.join(tmpDir, partial), { force: true });
        fs.rmSync(path.join(tmpDir, `${partial}.lock`), { recursive: true, force: true });
      }
    }
  }
}

