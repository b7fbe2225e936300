import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isola, makeFixture } from '../../helpers/fixture.js';
import { rawTar } from '../../helpers/raw-tar.js';

/** A layer past the limits fails in one line, and nothing of it is stored or left. */
test('import of a layer with too many entries or bytes stores nothing', { timeout: 60_000 }, async () => {
  const fx = await makeFixture();
  try {
    const many = path.join(fx.root, 'many.tar');
    fs.writeFileSync(many, rawTar(Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, body: '' }))));
    const big = path.join(fx.root, 'big.tar');
    fs.writeFileSync(big, rawTar([{ path: 'blob', body: 'x'.repeat(64 * 1024) }]));
    const blobsBefore = fs.readdirSync(path.join(fx.paths.images, 'blobs', 'sha256')).sort();
    for (const [file, env, pattern] of [
      [many, { ISOLA_UNPACK_MAX_ENTRIES: '20' }, /expand past 20 entries/],
      [big, { ISOLA_UNPACK_MAX_BYTES: '4096' }, /expand past 4096 bytes/],
    ] as const) {
      const r = await isola(fx.root, ['import', file, 'toolarge:1'], { env });
      assert.equal(r.code, 125, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /raise ISOLA_UNPACK_MAX_BYTES \/ ISOLA_UNPACK_MAX_ENTRIES/);
    }
    assert.doesNotMatch((await isola(fx.root, ['images'])).stdout, /toolarge/);
    assert.deepEqual(fs.readdirSync(path.join(fx.paths.images, 'blobs', 'sha256')).sort(), blobsBefore, 'no blob stored');
    assert.deepEqual(fs.readdirSync(fx.paths.tmp), [], 'no scratch left');
  } finally {
    await fx.dispose();
  }
});
