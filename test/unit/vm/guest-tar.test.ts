import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { guestSourceDir } from '../../../src/guest/assets.js';
import { extractInto } from '../../../src/image/unpack.js';

/**
 * isola cp's guest side is the init's own tar writer and reader (src/guest/init.c), so it is
 * tested here on the host: init.c compiled with a small main that calls them, against GNU tar
 * and against isola's own unpacker, which reads what a VM sends.
 */
const HARNESS = `#define main init_main
#include "${path.join(guestSourceDir(), 'init.c')}"
#undef main
int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "c")) return tar_create(argv[2], argc > 3);
  if (argc >= 3 && !strcmp(argv[1], "x")) { if (argc >= 5) owner_uid = atol(argv[3]), owner_gid = atol(argv[4]); return tar_extract(argv[2]); }
  if (argc >= 3 && !strcmp(argv[1], "s")) return stat_path(argv[2], argc > 3);
  return 2;
}
`;

const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const skip = !hasGcc ? 'gcc is missing' : process.getuid?.() !== 0 ? 'keeping owners needs root' : false;

function tree(dir: string): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a'), 'hello\n');
  fs.chownSync(path.join(dir, 'a'), 321, 654);
  fs.chmodSync(path.join(dir, 'a'), 0o4750);
  fs.linkSync(path.join(dir, 'a'), path.join(dir, 'hard'));
  fs.symlinkSync('../a', path.join(dir, 'sub', 'link'));
  fs.writeFileSync(path.join(dir, 'sub', 'x'.repeat(200)), 'a long name');
  fs.writeFileSync(path.join(dir, 'big'), Buffer.alloc(300 * 1024 + 7, 0x5a));
  fs.chownSync(path.join(dir, 'sub'), 7, 8);
  fs.chmodSync(path.join(dir, 'sub'), 0o710);
}

function same(a: string, b: string): void {
  for (const rel of ['a', 'hard', 'sub', 'sub/link', `sub/${'x'.repeat(200)}`, 'big']) {
    const x = fs.lstatSync(path.join(a, rel));
    const y = fs.lstatSync(path.join(b, rel));
    assert.deepEqual([y.mode, y.uid, y.gid, y.size], [x.mode, x.uid, x.gid, x.size], rel);
    if (x.isFile()) assert.ok(fs.readFileSync(path.join(a, rel)).equals(fs.readFileSync(path.join(b, rel))), `${rel} content`);
  }
  assert.equal(fs.readlinkSync(path.join(b, 'sub/link')), '../a');
  assert.equal(fs.statSync(path.join(b, 'a')).ino, fs.statSync(path.join(b, 'hard')).ino, 'hard links stay linked');
}

test('the guest tar writes what GNU tar and isola\'s unpacker read, and reads what GNU tar writes: modes, owners, links, long names', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-guest-tar-'));
  try {
    fs.writeFileSync(path.join(dir, 'h.c'), HARNESS);
    const cc = spawnSync('gcc', ['-Wall', '-Wno-unused-function', '-o', path.join(dir, 'h'), path.join(dir, 'h.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
    const h = path.join(dir, 'h');
    const src = path.join(dir, 'src');
    tree(src);
    // guest -> host
    const made = spawnSync(h, ['c', src], { maxBuffer: 1 << 24 });
    assert.equal(made.status, 0, made.stderr.toString());
    fs.mkdirSync(path.join(dir, 'gnu'));
    assert.equal(spawnSync('tar', ['-C', path.join(dir, 'gnu'), '-xpf', '-', '--numeric-owner'], { input: made.stdout }).status, 0);
    same(src, path.join(dir, 'gnu', 'src'));
    fs.mkdirSync(path.join(dir, 'ours'));
    const { Readable } = await import('node:stream');
    await extractInto(Readable.from([made.stdout]), path.join(dir, 'ours'), {});
    same(src, path.join(dir, 'ours', 'src'));
    // host -> guest
    const gnu = spawnSync('tar', ['-C', dir, '--numeric-owner', '-cf', '-', 'src'], { maxBuffer: 1 << 24 });
    fs.mkdirSync(path.join(dir, 'in'));
    const x = spawnSync(h, ['x', path.join(dir, 'in')], { input: gnu.stdout });
    assert.equal(x.status, 0, x.stderr.toString());
    same(src, path.join(dir, 'in', 'src'));
    // owners replaced (cp without -a), entries that climb refused
    fs.mkdirSync(path.join(dir, 'owned'));
    assert.equal(spawnSync(h, ['x', path.join(dir, 'owned'), '0', '0'], { input: gnu.stdout }).status, 0);
    assert.equal(fs.statSync(path.join(dir, 'owned', 'src', 'a')).uid, 0);
    assert.equal(fs.statSync(path.join(dir, 'owned', 'src', 'a')).mode & 0o7777, 0o4750, 'the mode stays');
    const evil = spawnSync('tar', ['-C', dir, '-cf', '-', '-P', '--transform', 's,^src/a,../escaped,', 'src/a']);
    const ev = spawnSync(h, ['x', path.join(dir, 'owned')], { input: evil.stdout });
    assert.notEqual(ev.status, 0);
    assert.match(ev.stderr.toString(), /refused entry .*climbs/);
    assert.equal(fs.existsSync(path.join(dir, 'escaped')), false);
    // stat
    const st = (p: string, follow = false) => spawnSync(h, ['s', p, ...(follow ? ['1'] : [])], { encoding: 'utf8' }).stdout.trim();
    assert.deepEqual([st(src), st(path.join(src, 'a')), st(path.join(src, 'sub/link')), st(path.join(src, 'sub/link'), true), st(path.join(src, 'none'))], ['dir', 'file', 'symlink', 'file', 'missing']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
