import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LaunchPlan } from '../../../src/drivers/vm/launch.js';
import { wholeDiskArgs, type WholeDiskBoot } from '../../../src/drivers/vm/launch-whole-disk.js';
import { firmwareOutcome } from '../../../src/drivers/vm/whole-disk.js';
import { diskImageFacts, DISK_LABEL, DISK_PATH } from '../../../src/image/disk-image.js';
import { diskImageName } from '../../../src/cli/run-disk.js';

const plan: LaunchPlan = {
  id: 'b'.repeat(64), accel: 'tcg', cpu: 'max', machine: 'q35', memoryMiB: 512, cpus: 2, kernel: '', initrd: '',
  disk: '/vm/state/disk.qcow2', baseDisk: '/vm/base.img', readOnly: false,
  files: { console: '/vm/state/console.log', log: '/vm/state/workload.log', status: '/vm/state/status', pidfile: '/run/vm/qemu.pid', qmp: '/run/vm/qmp.sock', agent: '/run/vm/agent.sock', ctl: '/run/vm/ctl.sock' },
  nets: [{ mac: '02:bb:bb:bb:bb:bb' }],
};
const boot = (over: Partial<WholeDiskBoot> = {}): WholeDiskBoot => ({
  firmware: 'bios', bus: 'virtio', agent: true, config: '/vm/config', firmwareLog: '/vm/state/firmware.log', ovmf: null, ...over,
});
const after = (args: string[], flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));

test('a whole disk boots on q35 through its firmware: no -kernel, failures end QEMU at once', () => {
  const a = wholeDiskArgs(plan, boot());
  assert.deepEqual(after(a, '-M'), ['q35']);
  assert.ok(!a.includes('-kernel') && !a.includes('-initrd') && !a.includes('-append'));
  assert.deepEqual(after(a, '-boot'), ['strict=on,reboot-timeout=0']);
  assert.ok(a.includes('-no-reboot'));
  assert.ok(after(a, '-device').includes('isa-debugcon,iobase=0x402,chardev=firmware'));
});

test('the image disk below the overlay may not open a backing file of its own', () => {
  const a = wholeDiskArgs(plan, boot());
  const root = after(a, '-blockdev').map((b) => JSON.parse(b) as Record<string, unknown>).find((b) => b['node-name'] === 'root');
  assert.ok(root);
  const backing = root.backing as Record<string, unknown>;
  assert.equal(backing.backing, null);
  assert.equal(backing['read-only'], true);
  assert.deepEqual(backing.file, { driver: 'file', filename: '/vm/base.img' });
});

test('isola\'s init gets the ports and its config by fw_cfg; a disk with its own OS gets no ports, and its address by fw_cfg only when it has one', () => {
  const withAgent = wholeDiskArgs(plan, boot());
  assert.deepEqual(after(withAgent, '-fw_cfg'), ['name=opt/isola/config,file=/vm/config']);
  assert.ok(after(withAgent, '-device').some((d) => d.startsWith('virtio-serial-pci')));
  const own = wholeDiskArgs(plan, boot({ agent: false, config: null }));
  assert.deepEqual(after(own, '-fw_cfg'), []);
  assert.ok(!after(own, '-device').some((d) => d.startsWith('virtio-serial') || d.startsWith('virtserialport')));
  // Its own OS with an address: the address goes by fw_cfg, still without isola's ports.
  const ownNet = wholeDiskArgs(plan, boot({ agent: false, config: '/vm/config' }));
  assert.deepEqual(after(ownNet, '-fw_cfg'), ['name=opt/isola/config,file=/vm/config']);
  assert.ok(!after(ownNet, '-device').some((d) => d.startsWith('virtio-serial') || d.startsWith('virtserialport')));
});

test('sata puts the disk on q35\'s AHCI and the NIC on e1000e; virtio uses virtio for both', () => {
  const sata = after(wholeDiskArgs(plan, boot({ bus: 'sata' })), '-device');
  assert.ok(sata.includes('ide-hd,drive=root,bus=ide.0,bootindex=0'));
  assert.ok(sata.some((d) => d.startsWith('e1000e,')));
  const virtio = after(wholeDiskArgs(plan, boot()), '-device');
  assert.ok(virtio.includes('virtio-blk-pci,drive=root,bootindex=0'));
  assert.ok(virtio.some((d) => d.startsWith('virtio-net-pci,')));
});

test('UEFI maps OVMF\'s code read-only and the VM\'s own variable store as the two flash chips', () => {
  const a = wholeDiskArgs(plan, boot({ firmware: 'uefi', ovmf: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/vm/state/vars.fd' } }));
  assert.deepEqual(after(a, '-M'), ['q35,pflash0=fw-code,pflash1=fw-vars']);
  const nodes = after(a, '-blockdev').map((b) => JSON.parse(b) as Record<string, unknown>);
  assert.deepEqual(nodes.find((n) => n['node-name'] === 'fw-code'), { 'driver': 'file', 'node-name': 'fw-code', 'filename': '/usr/share/OVMF/OVMF_CODE_4M.fd', 'read-only': true });
  assert.equal(nodes.find((n) => n['node-name'] === 'fw-vars')?.filename, '/vm/state/vars.fd');
});

test('the firmware\'s words say whether the disk booted', () => {
  assert.equal(firmwareOutcome('bios', 'Booting from Hard Disk...\nBooting from 0000:7c00\n', ''), 'booting');
  assert.equal(firmwareOutcome('bios', 'Booting from Hard Disk...\nBoot failed: not a bootable disk\n\nNo bootable device.  Retrying in 0 seconds.\n', ''), 'no-boot');
  assert.equal(firmwareOutcome('bios', 'SeaBIOS (version 1.16.2-debian-1.16.2-1)\n', ''), null);
  assert.equal(firmwareOutcome('uefi', '', 'BdsDxe: loading Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0)\r\nBdsDxe: starting Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0)\r\n'), 'booting');
  assert.equal(firmwareOutcome('uefi', '', 'BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0): Not Found\r\nBdsDxe: starting Boot0002 "EFI Internal Shell" from Fv(7CB8)\r\n'), 'no-boot');
});

test('a whole-disk image is known by its labels; sizes that are not numbers fall back to defaults', () => {
  const base = { env: [], entrypoint: [], cmd: [], workingDir: '/', user: '' };
  assert.equal(diskImageFacts(base), null);
  assert.equal(diskImageFacts({ ...base, labels: { [DISK_LABEL]: '/elsewhere.qcow2' } }), null);
  assert.deepEqual(diskImageFacts({ ...base, labels: { [DISK_LABEL]: DISK_PATH, 'io.isola.vm.cpus': '2', 'io.isola.vm.memory-mib': 'lots', 'io.isola.vm.agent': '1', 'io.isola.vm.firmware': 'uefi', 'io.isola.vm.disk-bus': 'sata' } }),
    { cpus: 2, memoryMiB: 512, agent: true, firmware: 'uefi', bus: 'sata' });
});

test('run --disk names the image after the file', () => {
  assert.equal(diskImageName('/srv/VMs/Debian 12.qcow2'), 'disk-debian-12:latest');
  assert.equal(diskImageName('/x/.qcow2'), 'disk-vm:latest');
});
