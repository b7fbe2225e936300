import fs from 'node:fs';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageStore } from './store.js';
import { MT_LAYER_GZIP, MT_LAYER_TAR, type Descriptor } from './layout.js';

function hashTap(h: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
  });
}

async function isGzip(file: string): Promise<boolean> {
  const fd = await fs.promises.open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    await fd.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fd.close();
  }
}

/**
 * Stores a tar file (plain or gzip) as a gzip-compressed OCI layer blob. Returns its descriptor
 * and its diff_id (the sha256 of the uncompressed tar, which the image config lists).
 */
export async function storeLayer(store: ImageStore, tarFile: string, opts: { beforeCommit?: (digest: string) => void; compress?: boolean } = {}): Promise<{ desc: Descriptor; diffId: string }> {
  if (opts.compress === false) return storePlainLayer(store, tarFile);
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const tmp = store.tempPath();
  const source = fs.createReadStream(tarFile);
  // mtime 0 in the gzip header keeps the blob's digest reproducible for the same tar.
  const gzip = zlib.createGzip({ level: 6 });
  try {
    if (await isGzip(tarFile)) await pipeline(source, zlib.createGunzip(), hashTap(diff), gzip, hashTap(blob), fs.createWriteStream(tmp));
    else await pipeline(source, hashTap(diff), gzip, hashTap(blob), fs.createWriteStream(tmp));
    const digest = `sha256:${blob.digest('hex')}`;
    const size = fs.statSync(tmp).size;
    // A build leases the blob here, before it is visible, so a concurrent rmi cannot collect it.
    opts.beforeCommit?.(digest);
    store.commitBlob(tmp, digest);
    return { desc: { mediaType: MT_LAYER_GZIP, digest, size }, diffId: `sha256:${diff.digest('hex')}` };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Stores a tar file as it is, an uncompressed layer (its digest is its diff_id): for content
 * gzip cannot shrink and would only slow, such as a VM's disk image.
 */
async function storePlainLayer(store: ImageStore, tarFile: string): Promise<{ desc: Descriptor; diffId: string }> {
  const h = createHash('sha256');
  const tmp = store.tempPath();
  try {
    await pipeline(fs.createReadStream(tarFile), hashTap(h), fs.createWriteStream(tmp));
    const digest = `sha256:${h.digest('hex')}`;
    const size = fs.statSync(tmp).size;
    store.commitBlob(tmp, digest);
    return { desc: { mediaType: MT_LAYER_TAR, digest, size }, diffId: digest };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
