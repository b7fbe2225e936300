import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ImageStore } from '../../../src/image/store.js';
import { buildContainerDisk } from '../../../src/export/kube/containerdisk.js';
import { sniffDiskFormat } from '../../../src/util/qemu-img.js';
import { which } from '../../../src/util/which.js';
import { rawTar } from '../../helpers/raw-tar.js';

/** Entries of a tar (plain or gzip) with their header fields and the sha256 of their bodies. */
function tarEntries(file: string): { name: string; type: string; mode: number; uid: number; gid: number; size: number; sha256: string }[] {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const out = [];
  let off = 0;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number) => h.subarray(a, a + n).toString('latin1').replace(/\0.*$/s, '');
    const num = (a: number, n: number) => parseInt(str(a, n).trim() || '0', 8);
    const size = num(124, 12);
    const prefix = str(345, 155);
    const name = (prefix ? `${prefix}/` : '') + str(0, 100);
    const body = buf.subarray(off + 512, off + 512 + size);
    out.push({ name, type: str(156, 1), mode: num(100, 8), uid: num(108, 8), gid: num(116, 8), size, sha256: createHash('sha256').update(body).digest('hex') });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}


describe('isola kube containerdisk', () => {
  let dir: string;
  let store: ImageStore;
  const qemuImg = which('qemu-img', (process.env.PATH ?? '').split(':')) as string;
  let n = 0;
  const build = (file: string, ref: string) => {
    const scratch = path.join(dir, `scratch-${n++}`);
    fs.mkdirSync(scratch);
    return buildContainerDisk(store, file, ref, { qemuImg, scratch }).finally(() => fs.rmSync(scratch, { recursive: true, force: true }));
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-containerdisk-'));
    store = new ImageStore(path.join(dir, 'images'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a qcow2 disk becomes an image FROM scratch with one layer: /disk/disk.qcow2, uid 107, mode 0440', async () => {
    const disk = path.join(dir, 'web.qcow2');
    execFileSync(qemuImg, ['create', '-q', '-f', 'qcow2', disk, '64M']);
    execFileSync('qemu-io', ['-c', 'write -P 0x5a 1M 64k', disk]);
    assert.equal(sniffDiskFormat(disk), 'qcow2');
    const built = await build(disk, 'registry.example:5000/web-disk:1');
    assert.equal(built.entry, 'disk/disk.qcow2');
    const { manifest, config } = store.manifestOf('registry.example:5000/web-disk:1');
    assert.equal(manifest.layers.length, 1, 'one layer, no base image');
    assert.equal(config.rootfs.diff_ids.length, 1);
    assert.equal(config.config?.Cmd, undefined, 'nothing to run: KubeVirt reads the disk');
    assert.equal(config.config?.Entrypoint, undefined);
    const entries = tarEntries(store.blobPath(manifest.layers[0]?.digest as string));
    assert.deepEqual(entries.map((e) => [e.name, e.type, e.uid, e.gid, e.mode]), [
      ['disk/', '5', 107, 107, 0o555],
      ['disk/disk.qcow2', '0', 107, 107, 0o440],
    ]);
    // The stored disk holds the same blocks (qemu-img compare reads both as the guest would).
    const stored = path.join(dir, 'stored.qcow2');
    fs.writeFileSync(stored, execFileSync('tar', ['-xOf', store.blobPath(manifest.layers[0]?.digest as string), 'disk/disk.qcow2'], { maxBuffer: 1 << 30 }));
    execFileSync(qemuImg, ['compare', '-f', 'qcow2', '-F', 'qcow2', disk, stored]);
    // Same disk, same digest: fixed timestamps and no host-specific fields. A second later, so a
    // time the build takes from the clock (the converted file's ctime, say) would differ.
    await sleep(1100);
    const again = await build(disk, 'registry.example:5000/web-disk:2');
    assert.equal(again.digest, built.digest);
  });

  test('a raw disk is converted: the containerDisk always holds a standalone qcow2', async () => {
    const disk = path.join(dir, 'plain.raw');
    fs.writeFileSync(disk, Buffer.alloc(1024 * 1024, 1));
    const built = await build(disk, 'raw-disk:1');
    assert.equal(built.entry, 'disk/disk.qcow2');
    const { manifest } = store.manifestOf('raw-disk:1');
    const head = execFileSync('tar', ['-xOf', store.blobPath(manifest.layers[0]?.digest as string), 'disk/disk.qcow2'], { maxBuffer: 1 << 30 }).subarray(0, 4);
    assert.equal(head.toString('latin1'), 'QFI\xfb');
  });

  test('what KubeVirt cannot boot is refused with the fix, and nothing is stored', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['a.vhdx', Buffer.concat([Buffer.from('vhdxfile'), Buffer.alloc(1016)]), /VHDX disk.*qemu-img convert/],
      ['a.qcow2.gz', zlib.gzipSync(Buffer.alloc(4096)), /gzip-compressed/],
      ['odd.img', Buffer.alloc(1000), /not a whole number of 512-byte sectors/],
      ['empty.img', Buffer.alloc(0), /neither a known disk format nor a raw disk/],
      ['a.tar', rawTar([{ path: 'x', body: 'y' }]), /a tar archive, not a disk/],
    ];
    const before = store.readIndex().manifests.length;
    for (const [name, bytes, re] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      await assert.rejects(build(file, 'bad:1'), (e: Error) => re.test(e.message + ((e as { hint?: string }).hint ?? '')), name);
    }
    await assert.rejects(build(path.join(dir, 'missing.qcow2'), 'bad:1'), /does not exist/);
    // An overlay: its backing file would not travel with it, and would be a host file read in.
    const overlay = path.join(dir, 'overlay.qcow2');
    execFileSync(qemuImg, ['create', '-q', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', overlay]);
    await assert.rejects(build(overlay, 'bad:1'), /names a backing file \(\/etc\/hostname\)/);
    assert.equal(store.readIndex().manifests.length, before);
    assert.deepEqual(fs.readdirSync(path.join(store.dir, 'blobs')).filter((n) => n.startsWith('.tmp')), [], 'no scratch left');
  });
});
