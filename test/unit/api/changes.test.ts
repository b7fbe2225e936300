import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { layerChanges } from '../../../src/api/changes.js';

test('docker diff from a layer: whiteouts deleted, paths in the image modified, others added, their folders modified', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-changes-'));
  try {
    const lower = path.join(dir, 'lower');
    const layer = path.join(dir, 'layer');
    for (const d of ['etc', 'var/lib']) fs.mkdirSync(path.join(lower, d), { recursive: true });
    fs.writeFileSync(path.join(lower, 'etc/hostname'), 'old');
    fs.writeFileSync(path.join(lower, 'etc/gone'), 'x');
    fs.mkdirSync(path.join(layer, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(layer, 'tmp/new'), { recursive: true });
    fs.mkdirSync(path.join(layer, 'var/lib'), { recursive: true });
    fs.writeFileSync(path.join(layer, 'etc/hostname'), 'new');
    fs.writeFileSync(path.join(layer, 'etc/.wh.gone'), '');
    fs.writeFileSync(path.join(layer, 'tmp/new/file'), 'x');
    fs.writeFileSync(path.join(layer, 'var/lib/.wh..wh..opq'), '');
    const file = path.join(dir, 'layer.tar');
    await tar.c({ file, cwd: layer, portable: true }, ['.']);
    assert.deepEqual(await layerChanges(file, lower), [
      { Path: '/etc', Kind: 0 }, { Path: '/etc/gone', Kind: 2 }, { Path: '/etc/hostname', Kind: 0 },
      { Path: '/tmp', Kind: 1 }, { Path: '/tmp/new', Kind: 1 }, { Path: '/tmp/new/file', Kind: 1 },
      { Path: '/var', Kind: 0 }, { Path: '/var/lib', Kind: 0 },
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
