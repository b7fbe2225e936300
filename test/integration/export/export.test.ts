import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, REPO, runCmd, type Fixture } from '../../helpers/fixture.js';

/**
 * `isola export` and `isola import-vm` against the real tools: the disks boot under plain QEMU
 * (no isola in the way) the classic way, with SeaBIOS and with OVMF, on a virtio disk and on the
 * IDE disk an OVA importer attaches; qemu-img checks each; the OVF validates against the DMTF
 * schema with xmllint; the OVA comes back through import-vm and runs. Bad input is refused.
 */
const SCHEMA = path.resolve(REPO, '..', 'shared', 'schemas', 'ovf', 'dsp8023_1.1.1.xsd');
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const WORKLOAD = ['sh', '-c', 'echo exported-$((6*7)); ls /dev | grep -E "^(sd|vd)a$"'];

let fx: Fixture;
let dir: string;
const cli = (args: string[], timeoutMs = 180_000) => isola(fx.root, args, { timeoutMs });

/** Boots a disk in plain QEMU, its serial console into a file; resolves with QEMU's status and the console. */
async function bootPlain(args: string[], name: string): Promise<{ code: number; console: string }> {
  const serial = path.join(dir, `${name}.serial`);
  const r = await runCmd('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '512', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-serial', `file:${serial}`, ...args,
  ], { timeoutMs: 150_000 });
  return { code: r.code, console: fs.existsSync(serial) ? fs.readFileSync(serial, 'latin1') : r.stderr };
}

async function qemuImgCheck(file: string, format: string): Promise<void> {
  const r = await runCmd('qemu-img', ['check', '-f', format, file]);
  assert.equal(r.code, 0, `qemu-img check ${path.basename(file)}: ${r.stdout}${r.stderr}`);
}

describe('isola export and import-vm', () => {
  let qcow2: string;
  before(async () => {
    fx = await makeFixture();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-export-'));
    qcow2 = path.join(dir, 'app.qcow2');
    const r = await cli(['export', '-o', qcow2, '--free', '64m', 'base', ...WORKLOAD]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /app\.qcow2 \(qcow2, [\d.]+ MiB on disk, \d+ MiB virtual; boots isola's kernel/);
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    const left = hostLeftovers(fx);
    await fx.dispose();
    assert.deepEqual(left, []);
  });

  test('the qcow2 boots under plain QEMU (q35, SeaBIOS, virtio disk) and runs the command', async () => {
    await qemuImgCheck(qcow2, 'qcow2');
    const b = await bootPlain(['-M', 'q35', '-drive', `file=${qcow2},if=virtio,format=qcow2,snapshot=on`], 'qcow2-bios');
    assert.equal(b.code, 0, b.console.slice(-2000));
    assert.match(b.console, /SYSLINUX/);
    assert.match(b.console, /^exported-42\r?$/m);
    assert.match(b.console, /^vda\r?$/m);
    assert.match(b.console, /^exit 0\r?$/m);
  });

  test('the same disk boots under UEFI (OVMF) through GRUB', async () => {
    const vars = path.join(dir, 'vars.fd');
    fs.copyFileSync(OVMF_VARS, vars);
    const b = await bootPlain([
      '-M', 'q35,pflash0=code,pflash1=vars',
      '-blockdev', `driver=file,node-name=code,filename=${OVMF_CODE},read-only=on`,
      '-blockdev', `driver=file,node-name=vars,filename=${vars}`,
      '-drive', `file=${qcow2},if=virtio,format=qcow2,snapshot=on`,
    ], 'qcow2-uefi');
    assert.equal(b.code, 0, b.console.slice(-2000));
    assert.match(b.console, /^exported-42\r?$/m);
  });

  test('the VMDK boots from an IDE disk (PIIX), as an OVA importer attaches it', async () => {
    const vmdk = path.join(dir, 'app.vmdk');
    const r = await cli(['export', '--format', 'vmdk', '-o', vmdk, '--free', '64m', 'base', ...WORKLOAD]);
    assert.equal(r.code, 0, r.stderr);
    await qemuImgCheck(vmdk, 'vmdk');
    const b = await bootPlain(['-M', 'pc', '-drive', `file=${vmdk},if=ide,format=vmdk,snapshot=on`], 'vmdk-ide');
    assert.equal(b.code, 0, b.console.slice(-2000));
    assert.match(b.console, /^exported-42\r?$/m);
    assert.match(b.console, /^sda\r?$/m);
  });

  test('VDI and raw disks are written whole: qemu-img reads them, the raw one has the two partitions', async () => {
    const vdi = path.join(dir, 'app.vdi');
    const raw = path.join(dir, 'app.raw');
    for (const [file, format] of [[vdi, 'vdi'], [raw, 'raw']] as const) {
      const r = await cli(['export', '--format', format, '-o', file, '--free', '64m', 'base', ...WORKLOAD]);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse((await runCmd('qemu-img', ['info', '--output=json', '-f', format, file])).stdout) as { format: string };
      assert.equal(info.format, format);
    }
    await qemuImgCheck(vdi, 'vdi');
    const parts = JSON.parse((await runCmd('sfdisk', ['--json', raw])).stdout) as { partitiontable: { label: string; partitions: { type: string; bootable?: boolean }[] } };
    assert.equal(parts.partitiontable.label, 'dos');
    assert.deepEqual(parts.partitiontable.partitions.map((p) => [p.type, !!p.bootable]), [['c', true], ['83', false]]);
  });

  test('the OVA: descriptor first and manifest last in a USTAR tar, the OVF valid, re-imported and run', async () => {
    const ova = path.join(dir, 'app.ova');
    const r = await cli(['export', '--format', 'ova', '--cpus', '2', '-m', '384m', '-o', ova, '--free', '64m', 'base', ...WORKLOAD]);
    assert.equal(r.code, 0, r.stderr);
    const list = await runCmd('tar', ['-tvf', ova]);
    const names = list.stdout.trim().split('\n').map((l) => l.split(/\s+/).pop());
    assert.deepEqual(names, ['app.ovf', 'app-disk1.vmdk', 'app.mf']);
    const head = Buffer.alloc(512);
    const fd = fs.openSync(ova, 'r');
    fs.readSync(fd, head, 0, 512, 0);
    fs.closeSync(fd);
    assert.equal(head.subarray(257, 263).toString('latin1'), 'ustar\0', 'POSIX USTAR headers');

    const x = path.join(dir, 'ova');
    fs.mkdirSync(x);
    assert.equal((await runCmd('tar', ['-xf', ova, '-C', x])).code, 0);
    assert.ok(fs.existsSync(SCHEMA), `the OVF schema is missing at ${SCHEMA} (../shared/schemas beside the checkout)`);
    const lint = await runCmd('xmllint', ['--noout', '--nonet', '--schema', SCHEMA, path.join(x, 'app.ovf')]);
    assert.equal(lint.code, 0, lint.stderr);
    assert.match(lint.stderr, /app\.ovf validates/);
    const ovf = fs.readFileSync(path.join(x, 'app.ovf'), 'utf8');
    assert.match(ovf, /<rasd:VirtualQuantity>2<\/rasd:VirtualQuantity>/);
    assert.match(ovf, /<rasd:VirtualQuantity>384<\/rasd:VirtualQuantity>/);
    assert.match(ovf, /<rasd:ResourceType>10<\/rasd:ResourceType>/, 'a NIC');
    assert.match(ovf, /OperatingSystemSection ovf:id="96"/);
    assert.match(ovf, /vmdk\.html#streamOptimized/);
    const sub = JSON.parse((await runCmd('qemu-img', ['info', '--output=json', path.join(x, 'app-disk1.vmdk')])).stdout) as { 'format-specific': { data: { 'create-type': string } } };
    assert.equal(sub['format-specific'].data['create-type'], 'streamOptimized');
    await qemuImgCheck(path.join(x, 'app-disk1.vmdk'), 'vmdk');

    const im = await cli(['import-vm', ova, 'app-ova:1']);
    assert.equal(im.code, 0, im.stderr);
    const run = await cli(['run', '--rm', '--as', 'vm', 'app-ova:1']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^exported-42$/m);
    assert.match(run.stdout, /^vda$/m, 'under isola the disk is on virtio');
    // The OVA's CPUs and memory are the instance's.
    const d = await cli(['run', '-d', '--as', 'vm', 'app-ova:1', 'sh', '-c', 'nproc; sleep 60']);
    assert.equal(d.code, 0, d.stderr);
    const id = d.stdout.trim();
    const ins = JSON.parse((await cli(['inspect', id])).stdout) as { Driver: { cpus: number; memoryMiB: number; wholeDisk: { agent: boolean } } }[];
    assert.deepEqual([ins[0]?.Driver.cpus, ins[0]?.Driver.memoryMiB, ins[0]?.Driver.wholeDisk.agent], [2, 384, true]);
    assert.equal((await cli(['rm', '-f', id])).code, 0);
  });

  test('bad input: an unknown format, a damaged OVA, an OVF naming a missing disk, a disk naming a backing file', async () => {
    const none = path.join(dir, 'none.iso');
    const f = await cli(['export', '--format', 'iso', '-o', none, 'base', 'true']);
    assert.equal(f.code, 125);
    assert.match(f.stderr, /unknown export format "iso".*--format qcow2\|vmdk\|vdi\|raw\|ova/);
    assert.equal(fs.existsSync(none), false, 'nothing written');

    const images = (await cli(['images', '--json'])).stdout;
    const x = path.join(dir, 'ova');
    // A damaged disk: its manifest digest no longer matches.
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    for (const n of ['app.ovf', 'app-disk1.vmdk', 'app.mf']) fs.copyFileSync(path.join(x, n), path.join(bad, n));
    const disk = path.join(bad, 'app-disk1.vmdk');
    const fd = fs.openSync(disk, 'r+');
    fs.writeSync(fd, Buffer.from('X'), 0, 1, fs.statSync(disk).size - 100);
    fs.closeSync(fd);
    const damaged = path.join(dir, 'damaged.ova');
    assert.equal((await runCmd('tar', ['--format=ustar', '-cf', damaged, '-C', bad, 'app.ovf', 'app-disk1.vmdk', 'app.mf'])).code, 0);
    const d = await cli(['import-vm', damaged, 'damaged']);
    assert.equal(d.code, 125);
    assert.match(d.stderr, /app-disk1\.vmdk in damaged\.ova does not match its SHA256 digest in app\.mf/);

    // An OVF whose disk item names a file the package does not hold.
    const missing = path.join(dir, 'missing');
    fs.mkdirSync(missing);
    fs.writeFileSync(path.join(missing, 'app.ovf'), fs.readFileSync(path.join(x, 'app.ovf'), 'utf8').replace('ovf:href="app-disk1.vmdk"', 'ovf:href="gone.vmdk"'));
    const m = path.join(dir, 'missing.ova');
    assert.equal((await runCmd('tar', ['--format=ustar', '-cf', m, '-C', missing, 'app.ovf'])).code, 0);
    const mr = await cli(['import-vm', m, 'missing']);
    assert.equal(mr.code, 125);
    assert.match(mr.stderr, /app\.ovf names the disk gone\.vmdk, which missing\.ova does not hold/);

    // A qcow2 that would pull in a host file as its backing file.
    const evil = path.join(dir, 'evil.qcow2');
    assert.equal((await runCmd('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/shadow', '-F', 'raw', evil])).code, 0);
    const e = await cli(['import-vm', evil, 'evil']);
    assert.equal(e.code, 125);
    assert.match(e.stderr, /evil\.qcow2 names a backing file \(\/etc\/shadow\), which isola does not follow/);

    assert.equal((await cli(['images', '--json'])).stdout, images, 'nothing was stored');
    assert.deepEqual(fs.readdirSync(path.join(fx.root, 'tmp')).filter((n) => n.startsWith('import-vm-') || n.startsWith('export-')), [], 'no scratch left');
  });

  test('a disk without a bootloader: the VM says so in its log and exits 1, at once', async () => {
    const blank = path.join(dir, 'blank.qcow2');
    assert.equal((await runCmd('qemu-img', ['create', '-q', '-f', 'qcow2', blank, '64M'])).code, 0);
    const t0 = Date.now();
    const r = await cli(['run', '--name', 'blank', '--disk', blank]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(Date.now() - t0 < 60_000, 'it does not wait for the firmware\'s retry');
    assert.match(r.stdout, /the firmware found no bootable device on the disk/);
    const logs = await cli(['logs', 'blank']);
    assert.match(logs.stdout, /no bootable device/);
    const ps = await cli(['ps', '-a']);
    assert.match(ps.stdout, /Exited \(1\)/);
    assert.equal((await cli(['rm', 'blank'])).code, 0);
    // UEFI: OVMF falls back to its shell, which isola ends the same way.
    const u = await cli(['run', '--rm', '--firmware', 'uefi', '--disk', blank]);
    assert.equal(u.code, 1, u.stderr);
    assert.match(u.stdout, /the firmware found no bootable device on the disk/);
  });

  test('whole-disk images boot only as VMs, and run --disk imports a file once', async () => {
    const c = await cli(['run', '--rm', '--as', 'container', 'app-ova:1']);
    assert.equal(c.code, 125);
    assert.match(c.stderr, /image app-ova:1 is a whole-disk VM .*run it with --as vm/);
    const first = await cli(['run', '--rm', '--disk', qcow2]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /converting app\.qcow2/);
    const second = await cli(['run', '--rm', '--disk', qcow2, 'echo', 'again']);
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /converting/, 'the stored image is reused');
    assert.equal(second.stdout.trim(), 'again');
  });
});
