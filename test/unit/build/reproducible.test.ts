import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageStore } from '../../../src/image/store.js';
import { buildImage, type BuildRequest } from '../../../src/image/build/build.js';
import type { BuildReporter } from '../../../src/image/build/executor.js';
import type { StepRunner } from '../../../src/image/build/runner.js';
import type { ImageConfig } from '../../../src/image/layout.js';

/** No RUN here: these builds need no container, so a runner that is called is a failure. */
const noRunner: StepRunner = { run: async () => assert.fail('no RUN step expected') };

function quietReporter(events: string[] = []): BuildReporter {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  return {
    stage: () => undefined, step: (n, t, text) => void events.push(`step ${n}/${t} ${text}`),
    cached: () => void events.push('cached'), done: () => undefined, out: sink, err: sink,
  };
}

const DOCKERFILE = [
  'FROM base',
  'COPY app/ /app/',
  'COPY --chown=1000:100 --chmod=600 secret.txt /etc/app/',
  'COPY lib.so /lib/',
  'ENV MODE=prod',
  'WORKDIR /work/dir',
  'CMD ["/app/run.sh"]',
].join('\n');

function makeContext(dir: string): void {
  fs.mkdirSync(path.join(dir, 'app/sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
  fs.writeFileSync(path.join(dir, 'app/run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'app/sub/data'), 'data');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
  fs.writeFileSync(path.join(dir, 'lib.so'), 'lib');
}

async function build(root: string, context: string, over: Partial<BuildRequest> = {}, events?: string[]) {
  const store = new ImageStore(path.join(root, 'images'));
  const scratch = fs.mkdtempSync(path.join(root, 'scratch-'));
  const r = await buildImage(store, {
    contextDir: context, dockerfile: path.join(context, 'Dockerfile'), dockerfileName: 'Dockerfile', tags: ['app:1'], buildArgs: new Map(),
    noCache: false, network: 'none', scratch, ...over,
  }, noRunner, quietReporter(events));
  return { store, ...r };
}

function configOf(store: ImageStore): ImageConfig {
  return store.manifestOf('app:1').config;
}

async function layerEntries(store: ImageStore, digest: string): Promise<Map<string, { mode: number; uid: number; gid: number; mtime: number; type: string }>> {
  const { list } = await import('tar');
  const out = new Map<string, { mode: number; uid: number; gid: number; mtime: number; type: string }>();
  await list({ file: store.blobPath(digest), onReadEntry: (e) => void out.set(e.path, { mode: (e.mode ?? 0) & 0o7777, uid: e.uid ?? -1, gid: e.gid ?? -1, mtime: (e.mtime?.getTime() ?? 0) / 1000, type: e.type }) });
  return out;
}

test('SOURCE_DATE_EPOCH: two builds in two stores, files touched in between, give the same digest', { timeout: 60_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-repro-'));
  try {
    const ctxA = path.join(tmp, 'a');
    const ctxB = path.join(tmp, 'b');
    makeContext(ctxA);
    await sleep(1100); // the second context's files are a second younger
    makeContext(ctxB);
    const epoch = 1_700_000_000;
    const a = await build(path.join(tmp, 'rootA'), ctxA, { epoch });
    const b = await build(path.join(tmp, 'rootB'), ctxB, { epoch });
    assert.equal(a.digest, b.digest, 'same Dockerfile, same files, same epoch: same image');
    const config = configOf(a.store);
    assert.equal(config.created, '2023-11-14T22:13:20Z');
    assert.ok(config.history?.slice(1).every((h) => h.created === '2023-11-14T22:13:20Z'), 'every step of this build carries the epoch');
    const layers = a.store.manifestOf('app:1').manifest.layers;
    for (const l of layers.slice(1)) {
      for (const [name, e] of await layerEntries(a.store, l.digest)) assert.ok(e.mtime <= epoch, `${name} is clamped to the epoch (${e.mtime})`);
    }
    const c = await build(path.join(tmp, 'rootC'), ctxA, { epoch: epoch + 1 });
    assert.notEqual(c.digest, a.digest, 'another epoch is another image');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('COPY layers: context files owned by root, --chown and --chmod applied, image symlinks followed, only new folders as entries', { timeout: 60_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-copy-'));
  try {
    const ctx = path.join(tmp, 'ctx');
    makeContext(ctx);
    // An image whose /lib is a symlink (Debian's merged /usr): COPY to /lib/ lands in usr/lib.
    fs.mkdirSync(path.join(ctx, 'rootfs/usr/lib'), { recursive: true });
    fs.symlinkSync('usr/lib', path.join(ctx, 'rootfs/lib'));
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM scratch\nCOPY rootfs/ /\n${DOCKERFILE.split('\n').slice(1).join('\n')}`);
    const { store } = await build(path.join(tmp, 'root'), ctx);
    const layers = store.manifestOf('app:1').manifest.layers;
    const app = await layerEntries(store, (layers[1] as { digest: string }).digest);
    assert.deepEqual([...app.keys()], ['app/', 'app/run.sh', 'app/sub/', 'app/sub/data'], 'the new folder /app is an entry; nothing above it');
    assert.deepEqual(app.get('app/run.sh'), { ...app.get('app/run.sh'), mode: 0o755, uid: 0, gid: 0 });
    const secret = await layerEntries(store, (layers[2] as { digest: string }).digest);
    assert.deepEqual(secret.get('etc/app/secret.txt'), { ...secret.get('etc/app/secret.txt'), mode: 0o600, uid: 1000, gid: 100 });
    assert.equal(secret.get('etc/app/')?.uid, 1000, 'a folder COPY creates takes the --chown owner');
    const lib = await layerEntries(store, (layers[3] as { digest: string }).digest);
    assert.deepEqual([...lib.keys()], ['usr/lib/lib.so'], 'written through the image\'s lib -> usr/lib symlink, which stays a symlink');
    const workdir = await layerEntries(store, (layers[4] as { digest: string }).digest);
    assert.deepEqual([...workdir.keys()], ['work/', 'work/dir/'], 'WORKDIR makes its missing folders');
    assert.equal(layers.length, 5, 'ENV and CMD add no layer');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('without SOURCE_DATE_EPOCH a cached rebuild gives the same digest; --no-cache a new one', { timeout: 60_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-cache-'));
  try {
    const ctx = path.join(tmp, 'ctx');
    makeContext(ctx);
    const root = path.join(tmp, 'root');
    const first = await build(root, ctx);
    const events: string[] = [];
    const again = await build(root, ctx, {}, events);
    assert.equal(again.digest, first.digest);
    assert.equal(events.filter((e) => e === 'cached').length, 6, `every step after FROM came from the cache: ${events.join(' | ')}`);
    await sleep(20);
    const fresh = await build(root, ctx, { noCache: true });
    assert.notEqual(fresh.digest, first.digest, 'a step done again gets a new created time');
    fs.writeFileSync(path.join(ctx, 'lib.so'), 'lib v2');
    const changed: string[] = [];
    await build(root, ctx, {}, changed);
    assert.equal(changed.filter((e) => e === 'cached').length, 2, `steps before the changed COPY stay cached: ${changed.join(' | ')}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
