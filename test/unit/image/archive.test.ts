import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, PassThrough } from 'node:stream';
import { create as createTar } from 'tar';
import { ImageStore } from '../../../src/image/store.js';
import { ensureBaseImage } from '../../../src/image/base.js';
import { loadArchive } from '../../../src/image/archive/load.js';
import { saveArchive } from '../../../src/image/archive/save.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { rawTar } from '../../helpers/raw-tar.js';
import { digestOf } from '../../helpers/fake-registry.js';

async function saved(store: ImageStore, refs: string[], format: 'docker-archive' | 'oci-archive'): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await saveArchive(store, refs, format, out);
  return Buffer.concat(chunks);
}

async function withStores(fn: (src: ImageStore, dst: ImageStore, dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-archive-'));
  try {
    const src = new ImageStore(path.join(dir, 'src'));
    await ensureBaseImage(src);
    await fn(src, new ImageStore(path.join(dir, 'dst')), dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const blobCount = (s: ImageStore) => fs.readdirSync(path.join(s.dir, 'blobs', 'sha256')).length;
const strays = (s: ImageStore) => fs.readdirSync(path.join(s.dir, 'blobs')).filter((f) => f !== 'sha256');

test('both archive formats round-trip: the same config, the same layer contents, every name', async () => {
  await withStores(async (src, dst) => {
    await src.tagDescriptor('other/name:2', src.findDescriptor('base')!);
    for (const format of ['docker-archive', 'oci-archive'] as const) {
      const loaded = await loadArchive(dst, Readable.from(await saved(src, ['base', 'other/name:2'], format)), format);
      assert.deepEqual(loaded.sort(), ['base:latest', 'other/name:2'], format);
      const a = src.resolve('base');
      const b = dst.resolve('other/name:2');
      assert.equal(src.manifestOf('base').manifest.config.digest, dst.manifestOf('other/name:2').manifest.config.digest, 'config byte for byte');
      if (format === 'oci-archive') assert.equal(a.digest, b.digest, 'an OCI archive keeps the manifest digest');
      assert.deepEqual(strays(dst), [], 'no temp files left');
    }
  });
});

test('a truncated archive and a foreign file store nothing and say so in one line', async () => {
  await withStores(async (src, dst) => {
    const whole = await saved(src, ['base'], 'docker-archive');
    for (const [input, code, re] of [
      [whole.subarray(0, Math.floor(whole.length / 2)), 'CORRUPT', /not a readable tar archive/],
      [Buffer.from('{"not": "a tar"}\n'.repeat(100)), 'CORRUPT', /not a readable tar archive/],
      [Buffer.alloc(0), 'CORRUPT', /no files|not a readable/],
      [rawTar([{ path: 'hello.txt', body: 'hi' }]), 'INVALID_ARGUMENT', /not an image archive/],
    ] as const) {
      await assert.rejects(loadArchive(dst, Readable.from([input]), 'the archive'), (e) => isIsolaError(e, code) && re.test(e.message) && !e.oneLine().includes('\n'));
      assert.equal(blobCount(dst), 0);
      assert.deepEqual(dst.list(), []);
      assert.deepEqual(strays(dst), []);
    }
  });
});

test('a docker-archive whose layer does not match its diff_id is refused', async () => {
  await withStores(async (_src, dst) => {
    const layer = rawTar([{ path: 'a.txt', body: 'a' }]);
    const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [digestOf(Buffer.from('something else'))] } }));
    const tar = rawTar([
      { path: 'manifest.json', body: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) },
      { path: 'c.json', body: config.toString() },
      { path: 'l/layer.tar', body: layer.toString('latin1') },
    ]);
    await assert.rejects(loadArchive(dst, Readable.from([tar]), 'the archive'), (e) => isIsolaError(e, 'CORRUPT') && /diff_id/.test(e.message));
    assert.equal(blobCount(dst), 0);
  });
});

test('Docker 25+ archives (manifest.json pointing into an OCI blobs/ layout) load', async () => {
  await withStores(async (_src, dst, dir) => {
    const stage = path.join(dir, 'stage');
    const layer = rawTar([{ path: 'bin/', type: 'dir' }, { path: 'etc/motd', body: 'docker 25\n' }]);
    const config = Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }));
    fs.mkdirSync(path.join(stage, 'blobs', 'sha256'), { recursive: true });
    for (const b of [layer, config]) fs.writeFileSync(path.join(stage, 'blobs', 'sha256', digestOf(b).slice(7)), b);
    fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${digestOf(config).slice(7)}`, RepoTags: ['new-docker:25'], Layers: [`blobs/sha256/${digestOf(layer).slice(7)}`] }]));
    fs.writeFileSync(path.join(stage, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    fs.writeFileSync(path.join(stage, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    const tarFile = path.join(dir, 'd25.tar');
    await createTar({ cwd: stage, file: tarFile }, ['manifest.json', 'oci-layout', 'index.json', 'blobs']);
    assert.deepEqual(await loadArchive(dst, fs.createReadStream(tarFile), 'd25.tar'), ['new-docker:25']);
    const img = dst.resolve('new-docker:25');
    assert.deepEqual(img.layerDigests, [digestOf(layer)]);
    assert.equal(dst.manifestOf('new-docker:25').manifest.layers[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar');
  });
});
