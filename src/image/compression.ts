import fs from 'node:fs';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { IsolaError } from '../core/errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** The compression of a layer file, by its first bytes (media types are not always right). */
export async function compressionOf(file: string): Promise<Compression> {
  const fd = await fs.promises.open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fd.read(b, 0, 4, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fd.close();
  }
}

/**
 * A layer's uncompressed tar stream. gzip is Node's own; zstd goes through the `zstd` program,
 * because Node 20's zlib has no zstd (it came in Node 22.15), and is refused clearly without it.
 */
export async function openUncompressed(file: string): Promise<Readable> {
  const kind = await compressionOf(file);
  if (kind === 'none') return fs.createReadStream(file);
  if (kind === 'gzip') return fs.createReadStream(file).pipe(zlib.createGunzip());
  const out = new PassThrough();
  const child = spawn('zstd', ['-d', '-c', '-q', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', (e) => {
    out.destroy((e as NodeJS.ErrnoException).code === 'ENOENT'
      ? new IsolaError('UNAVAILABLE', 'this image has a zstd-compressed layer, and the zstd program is not installed', 'install it (apt-get install zstd)')
      : e);
  });
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else if (code !== null || !out.destroyed) out.destroy(new IsolaError('CORRUPT', `zstd could not decompress layer ${file.split('/').pop()?.slice(0, 12)}: ${stderr.trim().split('\n')[0] ?? `exit ${code}`}`, 'remove the image (isola rmi) and pull it again'));
  });
  return out;
}
