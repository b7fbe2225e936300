import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { IsolaError } from '../core/errors.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function assertDigest(d: string): string {
  if (!DIGEST.test(d)) throw new IsolaError('CORRUPT', `"${d}" is not a sha256 digest`, 'the image index or manifest is damaged; remove the image and add it again');
  return d;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}
