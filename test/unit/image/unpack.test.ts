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
    ['a .. component', [{ path: '../outside/evil', body: 'x' }]],
    ['a nested .. component', [{ path: 'a/../../outside/evil', body: 'x' }]],
    ['a hard link to outside', [{ path: 'h', type: 'hardlink', linkpath: '../outside/keep' }]],
    ['a hard link through a symlink that points outside', [
      { path: 'l', type: 'symlink', linkpath: '../outside' },
      { path: 'h', type: 'hardlink', linkpath: 'l/keep' },
    ]],
    ['a hard link to a directory', [{ path: 'd/', type: 'dir' }, { path: 'h', type: 'hardlink', linkpath: 'd' }]],
    ['a whiteout of the parent folder', [{ path: 'a/', type: 'dir' }, { path: 'a/.wh...', body: '' }]],
    ['a whiteout of the folder itself', [{ path: 'a/', type: 'dir' }, { path: 'a/.wh..', body: '' }]],
    ['a whiteout of nothing', [{ path: 'a/.wh.', body: '' }]],
    ['a top-level whiteout of ..', [{ path: '.wh...', body: '' }]],
    ['a file named as the root', [{ path: '.', body: 'x' }]],
  ];
  for (const [what, entries] of refusals) {
    test(`refuses ${what} and changes nothing outside`, async () => {
      const before = outsideListing();
      await assert.rejects(unpackLayers([layer('bad.tar', entries)], target), (e) => isIsolaError(e, 'UNSAFE') && /refused layer entry/.test(e.message));
      assert.deepEqual(outsideListing(), before);
      assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'original');
      assert.ok(fs.existsSync(dir), 'the folder around the target is still there');
    });
  }

  const resolvedInside: [string, RawEntry[], string][] = [
    ['an absolute path, as the root', [{ path: '/etc/evil', body: 'x' }], 'etc/evil'],
    ['a write through a symlink placed earlier', [
      { path: 'link', type: 'symlink', linkpath: '../outside' },
      { path: 'link/keep', body: 'overwritten' },
    ], 'outside/keep'],
    ['a write through an absolute symlink', [
      { path: 'abs', type: 'symlink', linkpath: '/' },
      { path: 'abs/tmp/isola-escape', body: 'x' },
    ], 'tmp/isola-escape'],
    ['a write through merged /usr (lib -> usr/lib)', [
      { path: 'usr/lib/', type: 'dir' },
      { path: 'lib', type: 'symlink', linkpath: 'usr/lib' },
      { path: 'lib/libc.so', body: 'x' },
    ], 'usr/lib/libc.so'],
    ['a write through a symlink chain', [
      { path: 'a', type: 'symlink', linkpath: 'b' },
      { path: 'b', type: 'symlink', linkpath: '/c/../../../d' },
      { path: 'a/f', body: 'x' },
    ], 'd/f'],
  ];
  for (const [what, entries, lands] of resolvedInside) {
    test(`resolves ${what} inside the root`, async () => {
      const before = outsideListing();
      await unpackLayers([layer('ok.tar', entries)], target);
      assert.equal(fs.readFileSync(path.join(target, lands), 'utf8').length > 0, true, `${lands} is inside the root`);
      assert.deepEqual(outsideListing(), before);
      assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'original');
      assert.equal(fs.existsSync('/tmp/isola-escape'), false);
      assert.equal(fs.existsSync('/etc/evil'), false);
    });
  }

  test('a later layer writes through a symlinked folder of a lower one, inside the root', async () => {
    const lower = layer('lower.tar', [{ path: 'etc', type: 'symlink', linkpath: '../outside' }]);
    const upper = layer('upper.tar', [{ path: 'etc/keep', body: 'inside' }]);
    await unpackLayers([lower, upper], target);
    assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'original');
    assert.equal(fs.readFileSync(path.join(target, 'outside', 'keep'), 'utf8'), 'inside');
  });

  test('a whiteout through a symlinked folder removes inside the root only', async () => {
    const lower = layer('lower.tar', [{ path: 'x', type: 'symlink', linkpath: '../outside' }]);
    const upper = layer('upper.tar', [{ path: 'x/.wh.keep', body: '' }, { path: 'x/.wh..wh..opq', body: '' }]);
    await unpackLayers([lower, upper], target);
    assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'original');
  });

  test('stops at the byte and entry limits', async () => {
    const big = layer('big.tar', [{ path: 'a', body: 'x'.repeat(5000) }, { path: 'b', body: 'y' }]);
    await assert.rejects(unpackLayers([big], target, { maxBytes: 4000, maxEntries: 100 }), (e) => isIsolaError(e, 'RESOURCE_EXHAUSTED') && /expand past 4000 bytes/.test(e.message));
    const many = layer('many.tar', Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, body: '' })));
    await assert.rejects(unpackLayers([many], target, { maxBytes: 1e9, maxEntries: 10 }), (e) => isIsolaError(e, 'RESOURCE_EXHAUSTED') && /10 entries/.test(e.message));
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

describe('hostile sizes', () => {
  let d: string;
  beforeEach(() => {
    d = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-unpack-size-'));
  });
  afterEach(() => fs.rmSync(d, { recursive: true, force: true }));

  test('a path longer than PATH_MAX (in a PAX record) is refused cleanly', async () => {
    const file = path.join(d, 'long.tar');
    const deep = `${'a'.repeat(200)}/`.repeat(25) + 'f'; // 5,026 bytes, each part within NAME_MAX
    fs.writeFileSync(file, rawTar([{ path: deep, body: 'x', encoding: 'pax' }]));
    await assert.rejects(unpackLayers([file], path.join(d, 'root')), (e) => isIsolaError(e, 'UNSAFE') && /longer than 4095 bytes/.test(e.message));
  });

  test('a name longer than NAME_MAX is refused cleanly', async () => {
    const file = path.join(d, 'name.tar');
    fs.writeFileSync(file, rawTar([{ path: 'n'.repeat(300), body: 'x', encoding: 'gnu' }]));
    await assert.rejects(unpackLayers([file], path.join(d, 'root')), (e) => isIsolaError(e, 'UNSAFE') && /longer than 255 bytes/.test(e.message));
  });
});
