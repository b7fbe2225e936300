import { IsolaError } from '../../core/errors.js';
import { sha256 } from '../digest.js';
import { INDEX_TYPES, MANIFEST_TYPES, MT_DOCKER_LIST, MT_DOCKER_MANIFEST, MT_INDEX, MT_MANIFEST, type Descriptor, type Index, type Manifest } from '../layout.js';
import { repositoryScope } from './auth.js';
import type { RegistryClient } from './client.js';

/** containerd's and Docker's limit: a manifest is metadata, and a bigger one is an attack or a mistake. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export const ACCEPT_MANIFESTS = [MT_MANIFEST, MT_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST].join(', ');

/** A manifest or index exactly as the registry served it: its digest is that of these bytes. */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export type ParsedManifest = { kind: 'index'; index: Index } | { kind: 'image'; manifest: Manifest };

function tooBig(what: string, size: number | string): IsolaError {
  return new IsolaError('CORRUPT', `${what} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit for a manifest`, 'the registry serves something that is not a sane manifest; check the reference');
}

/** Reads a body, refusing it as soon as it passes `limit` bytes (the Content-Length may lie or be absent). */
export async function readLimited(body: AsyncIterable<Buffer>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > limit) throw tooBig(what, `more than ${limit}`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * GET a manifest by tag or digest. Its bytes are checked against the digest asked for, or else
 * against the Docker-Content-Digest header the registry sends.
 */
export async function fetchManifest(client: RegistryClient, repository: string, reference: string, what: string): Promise<FetchedManifest> {
  const res = await client.call({
    method: 'GET', url: `/v2/${repository}/manifests/${reference}`, scopes: [repositoryScope(repository, ['pull'])],
    headers: { accept: ACCEPT_MANIFESTS }, ok: [200], what,
  });
  const length = Number(res.headers['content-length'] ?? NaN);
  if (length > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw tooBig(what, length);
  }
  const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES, what);
  const digest = sha256(bytes);
  const expected = reference.startsWith('sha256:') ? reference : String(res.headers['docker-content-digest'] ?? '');
  if (expected.startsWith('sha256:') && expected !== digest) {
    throw new IsolaError('CORRUPT', `${what} does not match its digest (expected ${expected.slice(0, 19)}, got ${digest.slice(0, 19)})`, 'the registry or something between it and this host changed the manifest; nothing was stored');
  }
  const contentType = String(res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  return { bytes, digest, mediaType: mediaTypeOf(bytes, contentType, what) };
}

/** The media type: the document's own field wins over the header (some servers send application/json). */
export function mediaTypeOf(bytes: Buffer, contentType: string, what: string): string {
  let doc: { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw new IsolaError('CORRUPT', `${what} is not JSON`, 'the registry served something other than a manifest');
  }
  if (doc.schemaVersion === 1 || contentType.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw new IsolaError('INVALID_ARGUMENT', `${what} is a Docker schema 1 manifest, which is deprecated and not supported`, 'push the image again with a current client (schema 2 or OCI)');
  }
  const own = typeof doc.mediaType === 'string' ? doc.mediaType : '';
  const type = own || ([...MANIFEST_TYPES, ...INDEX_TYPES].includes(contentType) ? contentType : Array.isArray(doc.manifests) ? MT_INDEX : MT_MANIFEST);
  if (![...MANIFEST_TYPES, ...INDEX_TYPES].includes(type)) {
    throw new IsolaError('INVALID_ARGUMENT', `${what} has media type ${type}, which is not an image manifest or index`, 'pull an image (OCI or Docker schema 2), not another kind of artifact');
  }
  return type;
}

export function parseManifest(m: FetchedManifest, what: string): ParsedManifest {
  const doc = JSON.parse(m.bytes.toString('utf8')) as Partial<Manifest & Index>;
  if (INDEX_TYPES.includes(m.mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new IsolaError('CORRUPT', `${what} is an index without a manifests list`, 'the registry served a damaged index');
    return { kind: 'index', index: doc as Index };
  }
  const ok = (d: unknown): d is Descriptor => typeof d === 'object' && d !== null && /^sha256:[a-f0-9]{64}$/.test(String((d as Descriptor).digest)) && Number.isSafeInteger((d as Descriptor).size) && (d as Descriptor).size >= 0;
  if (!ok(doc.config) || !Array.isArray(doc.layers) || !doc.layers.every(ok)) {
    throw new IsolaError('CORRUPT', `${what} is not a valid image manifest (config and layers need sha256 digests and sizes)`, 'the registry served a damaged or unsupported manifest');
  }
  return { kind: 'image', manifest: doc as Manifest };
}
