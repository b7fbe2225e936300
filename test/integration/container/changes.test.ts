import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Engine } from '../../../src/engine/engine.js';
import { defaultRunRequest } from '../../../src/engine/request.js';
import { unpackLayers } from '../../../src/image/unpack.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { makeFixture } from '../../helpers/fixture.js';

/** A container's changes, exported as a layer and applied on the image, give what the container saw. */
test('exportChanges: new, changed, deleted and replaced paths become an OCI layer', { timeout: 60_000 }, async () => {
  const fx = await makeFixture();
  const engine = new Engine(fx.config);
  try {
    const script = [
      'mkdir -p /data/sub && echo new > /data/sub/file && chmod 640 /data/sub/file && chown 12:34 /data/sub/file',
      'ln -s sub/file /data/link',
      'rm /bin/cat', // a lower file deleted: a whiteout
      'rm -rf /usr && mkdir /usr && echo only > /usr/only', // a lower folder replaced: an opaque folder
      'echo changed > /root.txt',
    ].join(' && ');
    const req = { ...defaultRunRequest('base', ['sh', '-c', script]), name: 'changes' };
    const { exitCode } = await engine.run(req, new PassThrough(), new PassThrough());
    assert.equal(exitCode, 0);
    const tar = path.join(fx.root, 'changes.tar');
    await engine.exportChanges('changes', tar);
    const tree = path.join(fx.root, 'tree');
    await unpackLayers([...fx.base.layers, tar], tree);
    assert.equal(fs.readFileSync(path.join(tree, 'data/sub/file'), 'utf8'), 'new\n');
    const st = fs.statSync(path.join(tree, 'data/sub/file'));
    assert.equal(st.mode & 0o777, 0o640);
    assert.deepEqual([st.uid, st.gid], [12, 34]);
    assert.equal(fs.readlinkSync(path.join(tree, 'data/link')), 'sub/file');
    assert.equal(fs.existsSync(path.join(tree, 'bin/cat')), false, 'the deleted file is gone');
    assert.ok(fs.existsSync(path.join(tree, 'bin/sh')), 'its neighbours stay');
    assert.deepEqual(fs.readdirSync(path.join(tree, 'usr')), ['only'], 'the replaced folder hides the lower one');
    assert.equal(fs.readFileSync(path.join(tree, 'root.txt'), 'utf8'), 'changed\n');
    const listed = (await import('tar')).list;
    const names: string[] = [];
    await listed({ file: tar, onReadEntry: (e) => void names.push(e.path) });
    assert.ok(!names.some((n) => /etc\/(hosts|hostname|resolv\.conf)$/.test(n)), `the runtime's /etc mounts are not the workload's changes: ${names.join(', ')}`);
    await engine.remove('changes', true);
  } finally {
    engine.close();
    await fx.dispose();
  }
});

test('exportChanges is refused, with the reason, for a VM', { timeout: 120_000 }, async () => {
  const fx = await makeFixture();
  const engine = new Engine(fx.config);
  try {
    await engine.create({ ...defaultRunRequest('base', ['true']), kind: 'vm', name: 'vmchanges', network: 'none' });
    await assert.rejects(engine.exportChanges('vmchanges', path.join(fx.root, 'x.tar')), (e) => isIsolaError(e, 'FAILED_PRECONDITION') && /inside its VM's disk/.test(e.message));
    await engine.remove('vmchanges', true);
  } finally {
    engine.close();
    await fx.dispose();
  }
});
