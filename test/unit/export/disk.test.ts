import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { diskLayout, grubConfig, kernelAppend, sfdiskScript, syslinuxConfig } from '../../../src/export/disk/layout.js';
import { compareKernelVersions, findOwnKernel } from '../../../src/export/disk/own-kernel.js';
import { parseBoot, parseFormat } from '../../../src/export/disk/export.js';
import { fatPartitionOffset } from '../../../src/export/import-vm.js';
import { mustBeStandalone } from '../../../src/util/qemu-img.js';
import { isIsolaError } from '../../../src/core/errors.js';

const MIB = 1024 * 1024;

test('partitions start on 1 MiB boundaries, the boot partition active and FAT', () => {
  const l = diskLayout(64 * MIB, 100 * MIB + 5);
  assert.deepEqual(l.boot, { offset: MIB, size: 64 * MIB });
  assert.deepEqual(l.root, { offset: 65 * MIB, size: 101 * MIB });
  assert.equal(l.totalBytes, 166 * MIB);
  const script = sfdiskScript(l);
  assert.match(script, /^label: dos$/m);
  assert.match(script, /start=2048, size=131072, type=c, bootable/);
  assert.match(script, /start=133120, size=206848, type=83/);
});

test('isola\'s init is told the root by label; a full OS gets root= and rw for its own initramfs', () => {
  const isola = kernelAppend({ boot: 'isola', rootLabel: 'isola-root' });
  assert.match(isola, /isola\.root=LABEL=isola-root/);
  assert.doesNotMatch(isola, /(^| )root=/);
  const own = kernelAppend({ boot: 'os', rootLabel: 'isola-root' });
  assert.match(own, /(^| )root=LABEL=isola-root rw( |$)/);
  assert.doesNotMatch(own, /isola\.root/);
  // The serial console comes last: it is /dev/console, which isola console and logs read.
  assert.match(own, /console=tty0 console=ttyS0,115200/);
  assert.match(syslinuxConfig(own), /^ {2}APPEND console=tty0 console=ttyS0,115200 root=LABEL=isola-root rw$/m);
  const grub = grubConfig(own, 'ISOLABOOT');
  assert.match(grub, /^search --no-floppy --set=root --label ISOLABOOT$/m);
  assert.match(grub, /^linux \/vmlinuz console=tty0/m);
});

test('kernel versions compare as numbers, part by part', () => {
  const sorted = ['6.1.0-9-amd64', '6.1.0-28-amd64', '5.10.0-30-amd64', '6.1.0-10-cloud-amd64'].sort(compareKernelVersions);
  assert.deepEqual(sorted, ['5.10.0-30-amd64', '6.1.0-9-amd64', '6.1.0-10-cloud-amd64', '6.1.0-28-amd64']);
});

test('an image\'s own kernel: the newest with an initramfs, and only when it has an init', () => {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-own-kernel-'));
  try {
    fs.mkdirSync(path.join(tree, 'boot'));
    fs.mkdirSync(path.join(tree, 'usr/lib/systemd'), { recursive: true });
    fs.mkdirSync(path.join(tree, 'usr/sbin'), { recursive: true });
    for (const v of ['6.1.0-9-amd64', '6.1.0-28-amd64']) {
      fs.writeFileSync(path.join(tree, `boot/vmlinuz-${v}`), 'k');
      fs.writeFileSync(path.join(tree, `boot/initrd.img-${v}`), 'i');
    }
    fs.writeFileSync(path.join(tree, 'boot/vmlinuz-6.1.0-30-amd64'), 'k'); // no initramfs: skipped
    assert.equal(findOwnKernel(tree), null, 'no /sbin/init: not a bootable OS');
    fs.symlinkSync('usr/sbin', path.join(tree, 'sbin'));
    fs.writeFileSync(path.join(tree, 'usr/lib/systemd/systemd'), '');
    fs.symlinkSync('../lib/systemd/systemd', path.join(tree, 'usr/sbin/init'));
    assert.deepEqual(findOwnKernel(tree), { kernel: path.join(tree, 'boot/vmlinuz-6.1.0-28-amd64'), initrd: path.join(tree, 'boot/initrd.img-6.1.0-28-amd64'), version: '6.1.0-28-amd64' });
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
});

test('the FAT boot partition is found in the MBR', () => {
  const mbr = Buffer.alloc(512);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  mbr[446 + 4] = 0x83;
  mbr.writeUInt32LE(2048, 446 + 8);
  assert.equal(fatPartitionOffset(mbr), null, 'a Linux partition only');
  mbr[462 + 4] = 0x0c;
  mbr.writeUInt32LE(4096, 462 + 8);
  assert.equal(fatPartitionOffset(mbr), 4096 * 512);
  mbr[511] = 0;
  assert.equal(fatPartitionOffset(mbr), null, 'no boot signature');
});

test('formats and boot kinds outside the lists are refused with the choices', () => {
  assert.equal(parseFormat('vmdk'), 'vmdk');
  assert.throws(() => parseFormat('iso'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /qcow2\|vmdk\|vdi\|raw\|ova/.test(e.oneLine()));
  assert.throws(() => parseBoot('grub'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
});

test('a disk that names other files is refused: a backing file, or VMDK extents elsewhere', () => {
  assert.doesNotThrow(() => mustBeStandalone({ format: 'vmdk', virtualBytes: 1, backing: null, extents: ['/d/a.vmdk'] }, '/d/a.vmdk'));
  assert.throws(() => mustBeStandalone({ format: 'qcow2', virtualBytes: 1, backing: '/etc/shadow', extents: [] }, '/d/a.qcow2'), (e) => isIsolaError(e, 'UNSAFE'));
  assert.throws(() => mustBeStandalone({ format: 'vmdk', virtualBytes: 1, backing: null, extents: ['/dev/sda'] }, '/d/a.vmdk'), (e) => isIsolaError(e, 'UNSAFE') && /extent file \/dev\/sda/.test(e.oneLine()));
});
