import fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { IsolaError, isIsolaError } from '../../core/errors.js';
import { withLock } from '../../util/lock.js';
import type { Descriptor } from '../layout.js';
import { shortId, type ProgressSink } from '../progress.js';
import type { ImageStore } from '../store.js';
import { repositoryScope } from './auth.js';
import type { RegistryClient } from './client.js';
import { isTransient, networkError } from './errors.js';

const ATTEMPTS = 4;

export interface FetchOptions {
  onProgress?: ProgressSink;
  signal?: AbortSignal;
  /** For messages: "127.0.0.1:5000/app". */
  name: string;
}

async function hashFile(file: string, h: Hash): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
}

/**
 * Hashes and counts what passes, and fails as soon as more than `size` bytes arrive: a blob
 * is only ever as long as its descriptor says.
 */
function verifier(h: Hash, start: number, size: number, onBytes: (n: number) => void, what: string): Transform {
  let n = start;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > size) return cb(new IsolaError('CORRUPT', `${what} is longer than the ${size} bytes its manifest gives`, 'the registry served the wrong content; nothing was stored'));
      h.update(chunk);
      onBytes(n);
      cb(null, chunk);
    },
  });
}

/**
 * Downloads one blob into the store, verified against its digest while it streams: the bytes
 * go to a partial file named by the digest in the store's temp area and are committed only
 * when their sha256 matches. A partial file left by an interrupted pull (Ctrl-C, a lost
 * connection) is resumed with an HTTP Range request; a registry that ignores the range (200)
 * restarts it cleanly. Two pulls of the same blob take turns through a lock, so the second
 * finds it stored.
 */
export async function fetchBlob(client: RegistryClient, store: ImageStore, repository: string, desc: Descriptor, o: FetchOptions): Promise<'exists' | 'downloaded'> {
  const id = shortId(desc.digest);
  const report = o.onProgress ?? (() => undefined);
  if (store.hasBlob(desc.digest)) return 'exists';
  const partial = store.partialPath(desc.digest);
  return withLock(`${partial}.lock`, async () => {
    if (store.hasBlob(desc.digest)) return 'exists';
    const what = `blob ${id} of ${o.name}`;
    for (let attempt = 1; ; attempt++) {
      let have = 0;
      try {
        have = fs.statSync(partial).size;
      } catch {
        /* nothing kept yet */
      }
      if (have > desc.size) {
        fs.rmSync(partial, { force: true });
        have = 0;
      }
      let h = createHash('sha256');
      if (have > 0) await hashFile(partial, h);
      try {
        if (have < desc.size || desc.size === 0) h = await download(client, repository, desc, partial, have, h, report, what, o.signal);
        const got = `sha256:${h.digest('hex')}`;
        if (got !== desc.digest) {
          fs.rmSync(partial, { force: true });
          // A kept partial file may be what was wrong: one clean try from nothing before giving up.
          if (have > 0 && attempt < ATTEMPTS) continue;
          throw new IsolaError('CORRUPT', `${what} does not match its digest (expected ${desc.digest.slice(0, 19)}, got ${got.slice(0, 19)})`, 'the registry served other content than its manifest names; nothing was stored');
        }
        store.commitBlob(partial, desc.digest);
        report({ id, status: 'Download complete', current: desc.size, total: desc.size });
        return 'downloaded';
      } catch (e) {
        if (isIsolaError(e, 'CORRUPT')) fs.rmSync(partial, { force: true });
        if (o.signal?.aborted) throw e;
        if (!isTransient(e) || attempt >= ATTEMPTS) throw networkError(e, client.host);
        report({ id, status: `Retrying (${attempt}/${ATTEMPTS - 1})` });
        await sleep(250 * 2 ** attempt);
      }
    }
  });
}

/** GETs the rest of a blob (all of it when `have` is 0) onto the partial file; returns the hash of the whole file. */
async function download(client: RegistryClient, repository: string, desc: Descriptor, partial: string, have: number, h: Hash, report: ProgressSink, what: string, signal?: AbortSignal): Promise<Hash> {
  const id = shortId(desc.digest);
  const res = await client.call({
    method: 'GET', url: `/v2/${repository}/blobs/${desc.digest}`, scopes: [repositoryScope(repository, ['pull'])],
    headers: have > 0 ? { range: `bytes=${have}-` } : {}, ok: [200, 206, 416], what, signal,
  });
  let start = have;
  if (res.statusCode === 416) {
    // The kept bytes do not fit what the registry has: start over.
    await res.body.dump();
    fs.rmSync(partial, { force: true });
    throw Object.assign(new Error('range not satisfiable'), { code: 'ECONNRESET' });
  }
  if (res.statusCode === 206) {
    const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    if (!range || Number(range[1]) !== have) {
      res.body.destroy();
      fs.rmSync(partial, { force: true });
      throw Object.assign(new Error('registry answered another range than asked'), { code: 'ECONNRESET' });
    }
  } else if (have > 0) {
    // 200: the registry ignored the Range header; the body is the whole blob, hashed afresh.
    start = 0;
  }
  const hash = start === 0 && have > 0 ? createHash('sha256') : h;
  report({ id, status: 'Downloading', current: start, total: desc.size });
  let last = 0;
  const out = fs.createWriteStream(partial, { flags: start > 0 ? 'a' : 'w' });
  await pipeline(res.body.stream, verifier(hash, start, desc.size, (n) => {
    const now = Date.now();
    if (now - last >= 100) {
      last = now;
      report({ id, status: 'Downloading', current: n, total: desc.size });
    }
  }, what), out);
  const size = fs.statSync(partial).size;
  if (size !== desc.size) throw Object.assign(new Error(`the connection closed after ${size} of ${desc.size} bytes`), { code: 'ECONNRESET' });
  return hash;
}
