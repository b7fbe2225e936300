import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { unpackLayers } from '../../../src/image/unpack.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { rawTar, type RawEntry } from '../../helpers/raw-tar.js';

let dir: string;
let target: string;
let outside: string;

function layer(name: string, entries: RawEntry[], gzip = false): string {
  const file = path.join(dir, name);
  const data = rawTar(entries);
  fs.writeFileSync(file, gzip ? zlib.gzipSync(data) : data);
  return file;
}

/** Everything under `outside` (a sibling of target): must stay exactly as it was. */
function outsideListing(): string[] {
  return fs.readdirSync(outside, { recursive: true }).map(String).sort();
}

describe('safe layer unpacking', () => {
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-unpack-'));
    target = path.join(dir, 'root');
    outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'keep'), 'original');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('unpacks files, dirs, symlinks and hard links with modes and owners (plain and gzip)', async () => {
    const l = layer('a.tar.gz', [
      { path: 'etc/', type: 'dir' },
      { path: 'etc/motd', body: 'hello', mode: 0o600, uid: 1000, gid: 1001 },
      { path: 'bin/', type: 'dir' },
      { path: 'bin/tool', body: '#!/bin/sh', mode: 0o4755 },
      { path: 'bin/alias', type: 'symlink', linkpath: 'tool' },
      { path: 'bin/hard', type: 'hardlink', linkpath: 'bin/tool' },
    ], true);
    await unpackLayers([l], target);
    assert.equal(fs.readFileSync(path.join(target, 'etc/motd'), 'utf8'), 'hello');
    const st = fs.statSync(path.join(target, 'etc/motd'));
    assert.equal(st.mode & 0o7777, 0o600);
    assert.equal(st.uid, 1000);
    assert.equal(st.gid, 1001);
    assert.equal(fs.statSync(path.join(target, 'bin/tool')).mode & 0o7777, 0o4755, 'setuid bit survives chown');
    assert.equal(fs.readlinkSync(path.join(target, 'bin/alias')), 'tool');
    assert.equal(fs.statSync(path.join(target, 'bin/hard')).ino, fs.statSync(path.join(target, 'bin/tool')).ino);
  });

  test('applies whiteouts and opaque directories from upper layers', async () => {
    const lower = layer('lower.tar', [
      { path: 'a/', type: 'dir' },
      { path: 'a/old1', body: '1' },
      { path: 'a/old2', body: '2' },
      { path: 'b/', type: 'dir' },
      { path: 'b/gone', body: 'x' },
      { path: 'b/stays', body: 'y' },
    ]);
    const upper = layer('upper.tar', [
      { path: 'a/new', body: 'n' },
      { path: 'a/.wh..wh..opq', body: '' },
      { path: 'b/.wh.gone', body: '' },
    ]);
    await unpackLayers([lower, upper], target);
    assert.deepEqual(fs.readdirSync(path.join(target, 'a')).sort(), ['new'], 'opaque hides lower entries, keeps this layer\'s');
    assert.deepEqual(fs.readdirSync(path.join(target, 'b')).sort(), ['stays']);
  });

  const refusals: [string, RawEntry[]][] = [
    ['an absolute path', [{ path: '/etc/evil', body: 'x' }]],
    ['a .. component', [{ path: '../outside/evil', body: 'x' }]],
    ['a nested .. component', [{ path: 'a/../../outside/evil', body: 'x' }]],
    ['a write through a symlink placed earlier', [
      { path: 'link', type: 'symlink', linkpath: '../outside' },
      { path: 'link/keep', body: 'overwritten' },
    ]],
    ['a write through an absolute symlink', [
      { path: 'abs', type: 'symlink', linkpath: '/' },
      { path: 'abs/tmp/isola-escape', body: 'x' },
    ]],
    ['a hard link to outside', [{ path: 'h', type: 'hardlink', linkpath: '../outside/keep' }]],
    ['a hard link through a symlink', [
      { path: 'l', type: 'symlink', linkpath: '../outside' },
      { path: 'h', type: 'hardlink', linkpath: 'l/keep' },
    ]],
  ];
  for (const [what, entries] of refusals) {
    test(`refuses ${what} and changes nothing outside`, async () => {
      const before = outsideListing();
      await assert.rejects(unpackLayers([layer('bad.tar', entries)], target), (e) => isIsolaError(e, 'UNSAFE') && /refused layer entry/.test(e.message));
      assert.deepEqual(outsideListing(), before);
      assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'original');
      assert.equal(fs.existsSync('/tmp/isola-escape'), false);
      assert.equal(fs.existsSync('/etc/evil'), false);
    });
  }

  test('refuses a symlink from a lower layer used as a path by an upper one', async () => {
    const lower = layer('lower.tar', [{ path: 'etc', type: 'symlink', linkpath: '../outside' }]);
    const upper = layer('upper.tar', [{ path: 'etc/keep', body: 'pwned' }]);
    await assert.rejects(unpackLayers([lower, upper], target), (e) => isIsolaError(e, 'UNSAFE'));
    assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'original');
  });

  test('neutralises device nodes and FIFOs (skipped and reported)', async () => {
    const report = await unpackLayers([layer('dev.tar', [{ path: 'dev/', type: 'dir' }, { path: 'dev/null', type: 'char' }, { path: 'dev/pipe', type: 'fifo' }, { path: 'ok', body: '1' }])], target);
    assert.deepEqual(report.skippedSpecial.sort(), ['dev/null', 'dev/pipe']);
    assert.equal(fs.existsSync(path.join(target, 'dev/null')), false);
    assert.equal(fs.readFileSync(path.join(target, 'ok'), 'utf8'), '1');
  });

  test('refuses a layer whose digest does not match', async () => {
    const l = layer('a.tar', [{ path: 'x', body: '1' }]);
    await assert.rejects(unpackLayers([l], target, { expectedDigests: [`sha256:${'0'.repeat(64)}`] }), (e) => isIsolaError(e, 'CORRUPT') && /does not match its digest/.test(e.message));
    assert.equal(fs.existsSync(path.join(target, 'x')), false);
  });

  test('reports a file that is not a tar archive as corrupt', async () => {
    const f = path.join(dir, 'junk.tar');
    fs.writeFileSync(f, zlib.gzipSync(Buffer.from('this is not a tar archive at all'.repeat(40))));
    await assert.rejects(unpackLayers([f], target), (e) => isIsolaError(e) && (e.code === 'CORRUPT'));
  });
});
