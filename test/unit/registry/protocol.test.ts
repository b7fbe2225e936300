import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImageStore } from '../../../src/image/store.js';
import { pullImage, partialDownloads } from '../../../src/image/registry/pull.js';
import { MAX_MANIFEST_BYTES } from '../../../src/image/registry/manifest.js';
import { HOST_PLATFORM } from '../../../src/image/platform.js';
import { storeCredentials } from '../../../src/image/registry/credentials.js';
import { login } from '../../../src/image/registry/login.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { digestOf, startFakeRegistry, testImage, type FakeRegistry } from '../../helpers/fake-registry.js';

let dir: string;
let store: ImageStore;
let reg: FakeRegistry;
let credentialsFile: string;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-proto-'));
  store = new ImageStore(path.join(dir, 'images'));
  credentialsFile = path.join(dir, 'docker', 'config.json');
  reg = await startFakeRegistry();
});
afterEach(async () => {
  await reg.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const pull = (ref: string, platform = HOST_PLATFORM) => pullImage(store, ref, { credentialsFile, platform, haveZstd: true });
const blobFiles = () => fs.readdirSync(path.join(store.dir, 'blobs', 'sha256'));

test('a Docker schema 2 image pulls with its manifest stored byte for byte and resolves', async () => {
  const r = await pull(`${reg.host}/app:1`);
  assert.equal(r.digest, reg.image.manifestDigest);
  assert.equal(r.stored, `${reg.host}/app:1`);
  const desc = store.findDescriptor(r.stored);
  assert.equal(desc?.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.deepEqual(fs.readFileSync(store.blobPath(r.digest)), reg.image.manifest);
  const img = store.resolve(r.stored);
  assert.deepEqual(img.layerDigests, [reg.image.layerDigest]);
  assert.deepEqual(img.config.cmd, ['sh']);
  const accept = String(reg.requests.find((q) => q.url.includes('/manifests/'))?.headers.accept);
  for (const t of ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']) assert.ok(accept.includes(t));
  // A second pull finds every blob stored and downloads nothing.
  const again = await pull(`${reg.host}/app:1`);
  assert.equal(again.downloaded, 0);
  assert.equal(again.upToDate, true);
});

test('a blob whose content does not match its digest is refused while streaming and nothing is stored', async () => {
  reg.blobs.set(reg.image.layerDigest, Buffer.concat([reg.image.layer.subarray(0, -1), Buffer.from([reg.image.layer.at(-1)! ^ 1])]));
  await assert.rejects(pull(`${reg.host}/app:1`), (e) => isIsolaError(e, 'CORRUPT') && /does not match its digest/.test(e.message));
  assert.equal(store.findDescriptor(`${reg.host}/app:1`), undefined);
  assert.ok(!blobFiles().includes(reg.image.layerDigest.slice(7)), 'the bad layer was not committed');
  assert.deepEqual(partialDownloads(store), [], 'no partial file kept of a bad blob');
});

test('a blob longer than its descriptor says is cut off as it arrives', async () => {
  reg.blobs.set(reg.image.layerDigest, Buffer.concat([reg.image.layer, Buffer.alloc(10)]));
  await assert.rejects(pull(`${reg.host}/app:1`), (e) => isIsolaError(e, 'CORRUPT') && /longer than/.test(e.message));
  assert.equal(store.findDescriptor(`${reg.host}/app:1`), undefined);
});

test('a manifest over 4 MiB is refused, with or without a Content-Length', async () => {
  const big = Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20);
  reg.manifests.set('big', { body: big, type: 'application/vnd.oci.image.manifest.v1+json' });
  await assert.rejects(pull(`${reg.host}/app:big`), (e) => isIsolaError(e, 'CORRUPT') && /over the 4194304-byte limit/.test(e.message));
  reg.hook = (req, res) => {
    if (!req.url?.endsWith('/manifests/chunked')) return false;
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    for (let i = 0; i < 5; i++) res.write(Buffer.alloc(1024 * 1024, 0x20));
    res.end();
    return true;
  };
  await assert.rejects(pull(`${reg.host}/app:chunked`), (e) => isIsolaError(e, 'CORRUPT') && /limit/.test(e.message));
});

test('an interrupted download resumes with a Range request from the partial file', async () => {
  const half = Math.floor(reg.image.layer.length / 2);
  fs.writeFileSync(store.partialPath(reg.image.layerDigest), reg.image.layer.subarray(0, half));
  await pull(`${reg.host}/app:1`);
  const layerGet = reg.requests.find((q) => q.url.endsWith(reg.image.layerDigest));
  assert.equal(layerGet?.headers.range, `bytes=${half}-`);
  assert.ok(blobFiles().includes(reg.image.layerDigest.slice(7)));
  assert.deepEqual(partialDownloads(store), []);
});

test('a connection cut mid-blob is retried and resumed where it stopped', async () => {
  let cut = true;
  reg.hook = (req, res) => {
    if (!cut || !req.url?.endsWith(reg.image.layerDigest)) return false;
    cut = false;
    res.writeHead(200, { 'content-length': reg.image.layer.length });
    res.write(reg.image.layer.subarray(0, 100));
    setTimeout(() => res.destroy(), 50);
    return true;
  };
  await pull(`${reg.host}/app:1`);
  const gets = reg.requests.filter((q) => q.url.endsWith(reg.image.layerDigest));
  assert.equal(gets.length, 2);
  assert.equal(gets[1]?.headers.range, 'bytes=100-');
});

test('an index is resolved to the wanted platform; an absent platform and a single wrong-platform image are refused', async () => {
  const arm = testImage({ os: 'linux', architecture: 'arm64' });
  reg.blobs.set(digestOf(arm.config), arm.config);
  reg.blobs.set(arm.layerDigest, arm.layer);
  reg.manifests.set('arm', { body: arm.manifest, type: 'application/vnd.docker.distribution.manifest.v2+json' });
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: arm.manifestDigest, size: arm.manifest.length, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: reg.image.manifestDigest, size: reg.image.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  }));
  reg.manifests.set('multi', { body: index, type: 'application/vnd.oci.image.index.v1+json' });
  const r = await pull(`${reg.host}/app:multi`);
  assert.equal(r.digest, digestOf(index));
  assert.equal(r.manifestDigest, reg.image.manifestDigest);
  const rArm = await pull(`${reg.host}/app:multi`, { os: 'linux', architecture: 'arm64' });
  assert.equal(rArm.manifestDigest, arm.manifestDigest);
  await assert.rejects(pull(`${reg.host}/app:multi`, { os: 'linux', architecture: 'riscv64' }), (e) => isIsolaError(e, 'NOT_FOUND') && /linux\/arm64, linux\/amd64/.test(e.message));
  await assert.rejects(pull(`${reg.host}/app:arm`), (e) => isIsolaError(e, 'FAILED_PRECONDITION') && /linux\/arm64, not linux\/amd64/.test(e.message));
  assert.equal(store.findDescriptor(`${reg.host}/app:arm`), undefined);
});

test('a name without a registry host is refused with the fix; registry errors are typed one-liners', async () => {
  await assert.rejects(pull('app:1'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /no default registry/.test(e.message) && /isola pull 127\.0\.0\.1:5000\/app:1/.test(e.hint ?? ''));
  await assert.rejects(pull(`${reg.host}/app:nope`), (e) => isIsolaError(e, 'NOT_FOUND') && /manifest unknown/.test(e.message));
  reg.hook = (_req, res) => {
    res.writeHead(429, { 'retry-after': '7' }).end();
    return true;
  };
  await assert.rejects(pull(`${reg.host}/app:1`), (e) => isIsolaError(e, 'UNAVAILABLE') && /429/.test(e.message) && /wait 7 s/.test(e.hint ?? ''));
  reg.hook = (_req, res) => {
    res.writeHead(503).end();
    return true;
  };
  await assert.rejects(pull(`${reg.host}/app:1`), (e) => isIsolaError(e, 'UNAVAILABLE') && /503 server error/.test(e.message));
  reg.hook = (_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
    return true;
  };
  await assert.rejects(pull(`${reg.host}/app:1`), (e) => isIsolaError(e, 'PERMISSION_DENIED') && /requires authentication/.test(e.message) && e.hint === `log in first with isola login ${reg.host}`);
});

test('bearer tokens: the challenge\'s realm is asked for the repository scope with the stored login', async () => {
  const tokenRequests: URL[] = [];
  reg.hook = (req, res) => {
    const url = new URL(req.url ?? '/', `http://${reg.host}`);
    if (url.pathname === '/token') {
      tokenRequests.push(url);
      if (req.headers.authorization !== `Basic ${Buffer.from('bob:secret').toString('base64')}`) return void res.writeHead(401).end(), true;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `t-${url.searchParams.getAll('scope').join('+')}` })), true;
    }
    const want = url.pathname === '/v2/' ? 't-' : 't-repository:app:pull';
    if (req.headers.authorization === `Bearer ${want}`) return false;
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${reg.host}/token",service="fake",scope="repository:app:pull"` }).end();
    return true;
  };
  await assert.rejects(pull(`${reg.host}/app:1`), (e) => isIsolaError(e, 'PERMISSION_DENIED'));
  await assert.rejects(login(reg.host, { username: 'bob', password: 'wrong' }, { credentialsFile }), (e) => isIsolaError(e, 'PERMISSION_DENIED') && /incorrect username or password/.test(e.message));
  assert.equal(fs.existsSync(credentialsFile), false, 'a refused login is not stored');
  await login(reg.host, { username: 'bob', password: 'secret' }, { credentialsFile });
  assert.equal(fs.statSync(credentialsFile).mode & 0o777, 0o600);
  storeCredentials(credentialsFile, reg.host, { username: 'bob', password: 'secret' });
  await pull(`${reg.host}/app:1`);
  const last = tokenRequests.at(-1);
  assert.equal(last?.searchParams.get('service'), 'fake');
  assert.deepEqual(last?.searchParams.getAll('scope'), ['repository:app:pull']);
  assert.equal(last?.searchParams.get('account'), 'bob');
});

test('a pulled Docker schema 2 image is listed, removed and its blobs collected; a lease keeps blobs from the collector', async () => {
  const r = await pull(`${reg.host}/app:1`);
  const listed = store.list().find((i) => i.ref === r.stored);
  assert.equal(listed?.layers, 1);
  assert.equal(listed?.size, reg.image.manifest.length + reg.image.config.length + reg.image.layer.length);
  const release = store.lease([reg.image.layerDigest]);
  await store.remove(r.stored);
  assert.deepEqual(blobFiles(), [reg.image.layerDigest.slice(7)], 'only the leased layer stays');
  release();
  store.collectGarbage();
  assert.deepEqual(blobFiles(), []);
});
