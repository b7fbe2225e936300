import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../../src/engine/engine.js';
import { disk } from '../../../src/bench/scenarios/disk.js';
import { makeFixture } from '../../helpers/fixture.js';

/** A sparse-free file of `kib` KiB, so allocated bytes tell the entries apart. */
function fill(file: string, kib: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(kib * 1024, 1));
}

test('compare charges each kind what it derives from the image: the hybrid its own disk, not the VM\'s', async () => {
  const fx = await makeFixture();
  const engine = new Engine(fx.config);
  try {
    const digest = fx.base.digest;
    fill(engine.cache.vmDisk(digest), 64);
    fill(engine.cache.hybridDisk(digest, `sha256:${'ab'.repeat(32)}`), 256);
    fill(path.join(engine.cache.rootfs(digest), 'bin', 'x'), 16);
    const run = () => disk(engine, fx.base, ['container', 'vm', 'hybrid'], new Map([['container', [4096, 8192, 4096]]]));
    const [, root, inst] = run();
    const bytes = (k: 'container' | 'vm' | 'hybrid') => root?.kinds[k]?.median ?? NaN;
    const per = (k: string) => (run()[0]?.extra?.[`${k}.perImage`] as { entries: string[] }).entries;
    // Each instance is one sample; a kind without measured instances says so.
    assert.equal(inst?.kinds.container?.n, 3);
    assert.match(inst?.notMeasured?.vm ?? '', /no instance/);
    assert.equal(inst?.deterministic, true);
    assert.deepEqual(per('vm'), [path.relative(fx.root, engine.cache.vmDisk(digest))]);
    assert.ok(per('hybrid').some((e) => e.startsWith('cache/hybrid-disks/')), `hybrid: ${per('hybrid').join(', ')}`);
    assert.ok(!per('hybrid').some((e) => e.startsWith('cache/vm-disks/')), 'the hybrid is not charged the plain VM\'s disk');
    assert.ok(bytes('hybrid') > bytes('vm'), `hybrid ${bytes('hybrid')} > vm ${bytes('vm')}`);
    assert.ok(bytes('container') > 0 && bytes('container') < bytes('vm'));
  } finally {
    engine.close();
    await fx.dispose();
  }
});
