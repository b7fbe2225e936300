import http from 'node:http';
import zlib from 'node:zlib';
import type net from 'node:net';
import { createHash } from 'node:crypto';
import { rawTar } from './raw-tar.js';

/**
 * A minimal registry written for unit tests of failure modes a real registry never shows on
 * purpose (a wrong blob, an oversized manifest, a token service, 429): it serves one image
 * from memory, and `hook` may answer any request first.
 */
export interface FakeRegistry {
  host: string;
  image: { manifest: Buffer; config: Buffer; layer: Buffer; layerDigest: string; manifestDigest: string };
  blobs: Map<string, Buffer>;
  manifests: Map<string, { body: Buffer; type: string }>;
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  hook?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  close(): Promise<void>;
}

export const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function testImage(platform = { os: 'linux', architecture: 'amd64' }) {
  const tar = rawTar([{ path: 'hello.txt', body: 'hello from a fake registry\n' }, { path: 'bin/', type: 'dir' }]);
  const layer = zlib.gzipSync(tar);
  const config = Buffer.from(JSON.stringify({ ...platform, config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [digestOf(tar)] }, history: [{ created_by: 'test' }] }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: digestOf(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: digestOf(layer), size: layer.length }],
  }));
  return { manifest, config, layer, layerDigest: digestOf(layer), manifestDigest: digestOf(manifest) };
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const image = testImage();
  const blobs = new Map([[digestOf(image.config), image.config], [image.layerDigest, image.layer]]);
  const manifests = new Map([['1', { body: image.manifest, type: 'application/vnd.docker.distribution.manifest.v2+json' }]]);
  const requests: FakeRegistry['requests'] = [];
  const sockets = new Set<net.Socket>();
  const fake: Partial<FakeRegistry> = { image, blobs, manifests, requests };
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (fake.hook?.(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://x');
    let m: RegExpExecArray | null;
    if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
    if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname))) {
      const ref = m[2] ?? '';
      const found = manifests.get(ref) ?? [...manifests.values()].find((x) => digestOf(x.body) === ref);
      if (!found) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      return void res.writeHead(200, { 'content-type': found.type, 'docker-content-digest': digestOf(found.body), 'content-length': found.body.length }).end(found.body);
    }
    if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]+)$/.exec(url.pathname))) {
      const blob = blobs.get(m[2] ?? '');
      if (!blob) return void res.writeHead(404).end();
      const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
      if (range) {
        const start = Number(range[1]);
        return void res.writeHead(206, { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}`, 'content-length': blob.length - start }).end(blob.subarray(start));
      }
      return void res.writeHead(200, { 'content-length': blob.length }).end(blob);
    }
    res.writeHead(404).end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  fake.close = () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return fake as FakeRegistry;
}
