import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { startInProcessApi, type InProcessApi } from '../../helpers/api-server.js';

/** The prune endpoints over volumes and images (nothing on the host; containers and networks: test/integration/api/prune.test.ts). */
let api: InProcessApi;
let sock: string;

before(async () => {
  api = await startInProcessApi();
  sock = api.sock;
});
after(async () => {
  await api?.dispose();
});

function call(method: string, p: string, body = ''): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: p, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => (t += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: t ? JSON.parse(t) as Record<string, unknown> : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const filters = (f: Record<string, string[]>) => `filters=${encodeURIComponent(JSON.stringify(f))}`;

test('volume prune: anonymous volumes by default, named ones with all=true, label filters; the space is measured', async () => {
  // An anonymous volume, as -v /path makes it.
  const anon = { name: 'a'.repeat(64) };
  api.engine.volumes.repoEnsure(anon.name, true);
  api.engine.volumes.materialize(anon.name);
  api.engine.volumes.create('keep-me', { team: 'a' });
  api.engine.volumes.create('drop-me', { team: 'b' });
  fs.writeFileSync(path.join(api.engine.volumes.inspect('drop-me').mountpoint, 'f'), Buffer.alloc(64 * 1024, 1));
  const first = await call('POST', '/volumes/prune');
  assert.equal(first.status, 200);
  assert.deepEqual(first.json.VolumesDeleted, [anon.name]);
  const labelled = await call('POST', `/volumes/prune?${filters({ all: ['true'], label: ['team=b'] })}`);
  assert.deepEqual(labelled.json.VolumesDeleted, ['drop-me']);
  assert.ok((labelled.json.SpaceReclaimed as number) >= 64 * 1024, 'the 64 KiB file');
  assert.deepEqual(api.engine.volumes.list().map((v) => v.name), ['keep-me']);
  api.engine.volumes.remove('keep-me');
});

test('image prune: only the build cache\'s steps (isola\'s untagged images) by default; every unused image with dangling=false', async () => {
  const store = api.engine.images();
  await call('GET', '/images/base/json'); // made on first use
  const digest = store.list().find((i) => i.ref === 'base:latest')?.digest ?? '';
  const desc = store.findDescriptor('base:latest');
  assert.ok(desc);
  await store.tagDescriptor('isola-build-cache:abc', desc);
  await store.tagDescriptor('other:1', desc);
  const dangling = await call('POST', '/images/prune');
  assert.equal(dangling.status, 200);
  assert.deepEqual(dangling.json.ImagesDeleted, [{ Untagged: 'isola-build-cache:abc' }]);
  const all = await call('POST', `/images/prune?${filters({ dangling: ['false'] })}`);
  assert.deepEqual(all.json.ImagesDeleted, [{ Untagged: 'base:latest' }, { Untagged: 'other:1' }, { Deleted: digest }]);
  assert.ok((all.json.SpaceReclaimed as number) > 0, 'the blobs went');
  assert.deepEqual(store.list(), []);
});
