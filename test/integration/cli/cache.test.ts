import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CacheLayout } from '../../../src/core/cache-layout.js';
import { isola, makeFixture, type Fixture } from '../../helpers/fixture.js';

/** `system prune` and `system df` read the cache through its layout, and keep what stored images need. */
describe('the image cache (CLI)', () => {
  let fx: Fixture;
  let cache: CacheLayout;
  const cli = (...args: string[]) => isola(fx.root, args, { timeoutMs: 120_000 });

  before(async () => {
    fx = await makeFixture();
    cache = new CacheLayout(fx.paths.cache);
  });
  after(async () => fx.dispose());

  test('prune keeps every cache entry of a stored image, the hybrid disk included', async () => {
    for (const kind of ['container', 'vm', 'hybrid']) {
      const r = await cli('create', '--as', kind, '--name', `c-${kind}`, 'base', 'true');
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(new Set(cache.entriesFor(fx.base.digest).map((e) => e.kind)), new Set(['rootfs', 'vm-disk', 'hybrid-disk']));
    assert.equal((await cli('rm', 'c-container', 'c-vm', 'c-hybrid')).code, 0);
    const pruned = await cli('system', 'prune');
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual(new Set(cache.entriesFor(fx.base.digest).map((e) => e.kind)), new Set(['rootfs', 'vm-disk', 'hybrid-disk']), 'base is still stored: its caches stay');
  });

  test('prune removes the caches of images no longer stored and what crashed builds left', async () => {
    const gone = `sha256:${'cd'.repeat(32)}`;
    fs.mkdirSync(cache.rootfs(gone), { recursive: true });
    fs.writeFileSync(cache.vmDisk(gone), 'x');
    fs.writeFileSync(cache.hybridDisk(gone, `sha256:${'ef'.repeat(32)}`), 'x');
    const crashed = path.join(cache.folder('vm-disk'), '.build-999999999-dead.ext4');
    fs.writeFileSync(crashed, 'x');
    const building = cache.scratch('vm-disk', 'live.ext4'); // names this (live) process
    fs.writeFileSync(building, 'x');
    const df = JSON.parse((await cli('system', 'df', '--json')).stdout) as { type: string; count: number }[];
    assert.equal(df.find((r) => r.type === 'image caches')?.count, 6, 'three entries of base, three of the removed image');
    const r = await cli('system', 'prune');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(cache.entriesFor(gone), []);
    assert.equal(fs.existsSync(crashed), false, 'a dead builder\'s scratch file goes');
    assert.equal(fs.existsSync(building), true, 'a running builder\'s scratch file stays');
    assert.equal(cache.entriesFor(fx.base.digest).length, 3);
    fs.rmSync(building);
  });
});
