import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DISPOSABLE_CMDLINE, attachCmdline, kernelCmdline, memoryMiB, optValue, qemuArgs, tscKhzFromCpuinfo, vcpus, type LaunchPlan } from '../../../src/drivers/vm/launch.js';

const plan = (over: Partial<LaunchPlan> = {}): LaunchPlan => ({
  id: 'a'.repeat(64),
  accel: 'tcg',
  cpu: 'max',
  machine: 'microvm',
  memoryMiB: 256,
  cpus: 2,
  kernel: '/k/vmlinuz',
  initrd: '/i/initrd.cpio',
  disk: '/d/disk.qcow2',
  baseDisk: '/b/base.img',
  readOnly: false,
  files: { console: '/d/console.log', log: '/d/workload.log', status: '/d/status', pidfile: '/r/qemu.pid', qmp: '/r/qmp.sock', agent: '/r/agent.sock', agents: ['/r/agent1.sock', '/r/agent2.sock'], ctl: '/r/ctl.sock', tty: '/r/tty.sock' },
  nets: [{ mac: '02:aa:aa:aa:aa:aa' }],
  ...over,
});

const after = (args: string[], flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));

test('microvm with virtio-mmio devices, the accelerator, memory and vCPUs', () => {
  const a = qemuArgs(plan());
  assert.deepEqual(after(a, '-M'), ['microvm']);
  assert.deepEqual(after(a, '-accel'), ['tcg']);
  assert.deepEqual(after(a, '-cpu'), ['max']);
  assert.deepEqual(after(a, '-m'), ['256M']);
  assert.deepEqual(after(a, '-smp'), ['2']);
  assert.deepEqual(after(a, '-device').filter((d) => d.startsWith('virtio-')), [
    'virtio-blk-device,drive=root', 'virtio-serial-device,max_ports=8', 'virtio-net-device,netdev=net0,mac=02:aa:aa:aa:aa:aa',
  ]);
  assert.ok(a.includes('-nodefaults') && a.includes('-no-reboot'));
  assert.deepEqual(after(a, '-name'), [`isola-${'a'.repeat(64)}`], 'the name lets a later process recognise its QEMU by pid');
});

test('q35 uses the PCI variants of the same devices; KVM passes its CPU model', () => {
  const a = qemuArgs(plan({ machine: 'q35', accel: 'kvm', cpu: 'host' }));
  assert.deepEqual(after(a, '-M'), ['q35']);
  assert.deepEqual(after(a, '-cpu'), ['host']);
  assert.ok(a.includes('virtio-blk-pci,drive=root'));
  assert.ok(!kernelCmdline({ machine: 'q35', accel: 'kvm' }).includes('pci=off'));
  assert.deepEqual(after(qemuArgs(plan({ cpu: 'default' })), '-cpu'), []);
});

test('in the foreground under a strict sandbox, with a pidfile and QMP; files back the log and status ports, sockets the agent', () => {
  const a = qemuArgs(plan());
  assert.deepEqual(after(a, '-pidfile'), ['/r/qemu.pid']);
  assert.ok(!a.includes('-daemonize'), 'daemonizing forks and calls setsid, which the sandbox forbids');
  assert.ok(!a.includes('-runas'), 'QEMU is started unprivileged instead');
  assert.deepEqual(after(a, '-sandbox'), ['on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny']);
  assert.deepEqual(after(a, '-qmp'), ['unix:/r/qmp.sock,server=on,wait=off']);
  const chardevs = after(a, '-chardev');
  assert.ok(chardevs.includes('file,id=console,path=/d/console.log,append=on'));
  assert.ok(chardevs.includes('file,id=log,path=/d/workload.log,append=on'));
  assert.ok(chardevs.includes('file,id=status,path=/d/status,append=on'));
  assert.ok(chardevs.includes('socket,id=agent,path=/r/agent.sock,server=on,wait=off'));
  const ports = after(a, '-device').filter((d) => d.startsWith('virtserialport'));
  assert.deepEqual(ports.map((p) => /name=(\S+)/.exec(p)?.[1]), ['isola.log', 'isola.status', 'isola.agent', 'isola.agent1', 'isola.agent2', 'isola.ctl', 'isola.tty']);
  assert.ok(chardevs.includes('socket,id=tty,path=/r/tty.sock,server=on,wait=off'), 'the workload\'s streams for attached clients');
});

test('a VM recorded before the terminal channel existed is launched without it; a foreground client holds the output', () => {
  const { tty: _tty, ...old } = plan().files;
  const ports = after(qemuArgs(plan({ files: old })), '-device').filter((d) => d.startsWith('virtserialport'));
  assert.equal(ports.length, 6);
  assert.ok(!ports.some((d) => d.includes('isola.tty')));
  assert.deepEqual(attachCmdline({ rows: 33, cols: 111.6 }), ['isola.attach=1', 'isola.tty=33x111']);
  assert.deepEqual(attachCmdline(null), ['isola.attach=1']);
});

test('network none has no NIC; a tap joins with the instance MAC; more networks, more NICs on the next fds', () => {
  const none = qemuArgs(plan({ nets: [] }));
  assert.equal(after(none, '-netdev').length, 0);
  assert.ok(!none.some((x) => x.startsWith('virtio-net')));
  assert.deepEqual(after(qemuArgs(plan()), '-netdev'), ['tap,id=net0,fd=3,vhost=off'], 'the jail hands QEMU the open tap');
  const two = qemuArgs(plan({ nets: [{ mac: '02:aa:aa:aa:aa:aa' }, { mac: '06:aa:aa:aa:aa:aa' }] }));
  assert.deepEqual(after(two, '-netdev'), ['tap,id=net0,fd=3,vhost=off', 'tap,id=net1,fd=4,vhost=off']);
  assert.deepEqual(after(two, '-device').filter((d) => d.startsWith('virtio-net')), ['virtio-net-device,netdev=net0,mac=02:aa:aa:aa:aa:aa', 'virtio-net-device,netdev=net1,mac=06:aa:aa:aa:aa:aa']);
});

test('the overlay names its backing disk by the path QEMU sees; read-only root makes it read-only', () => {
  const disk = after(qemuArgs(plan()), '-blockdev')[0] ?? '';
  assert.match(disk, /file\.filename=\/d\/disk\.qcow2/);
  assert.match(disk, /backing\.file\.filename=\/b\/base\.img,backing\.read-only=on/);
  assert.ok(!disk.includes(',read-only=on,') && !disk.endsWith(',read-only=on'));
  assert.ok(after(qemuArgs(plan({ readOnly: true })), '-blockdev')[0]?.endsWith(',read-only=on'));
});

test('a disposable disk (run --rm) does not pass guest flushes to the host; a kept one does', () => {
  assert.ok(after(qemuArgs(plan({ disposable: true })), '-blockdev')[0]?.split(',').includes('cache.no-flush=on'));
  assert.ok(!after(qemuArgs(plan()), '-blockdev')[0]?.includes('no-flush'));
  assert.ok(after(qemuArgs(plan({ disposable: true })), '-append')[0]?.split(' ').includes(DISPOSABLE_CMDLINE), 'init is told to skip its flushes');
  assert.ok(!after(qemuArgs(plan()), '-append')[0]?.includes(DISPOSABLE_CMDLINE));
});

test('commas in paths are escaped the way QEMU option values need', () => {
  assert.equal(optValue('/a,b/c'), '/a,,b/c');
  const a = qemuArgs(plan({ disk: '/x,y/disk.qcow2' }));
  assert.ok(after(a, '-blockdev')[0]?.includes('file.filename=/x,,y/disk.qcow2,'));
});

test('kernel command line: serial console, quiet, no reboot loop, extra words last', () => {
  const c = kernelCmdline({ machine: 'microvm', accel: 'kvm', extraCmdline: ['isola.probe=1'] });
  assert.match(c, /^console=ttyS0 quiet panic=-1 /);
  assert.ok(c.endsWith('pci=off isola.probe=1'));
});

test('under TCG the guest is told the TSC rate (calibration against the PIT is unreliable); under KVM not', () => {
  assert.match(kernelCmdline({ machine: 'microvm', accel: 'tcg', tscKhz: 2596124 }), / tsc_early_khz=2596124 tsc=reliable$/);
  assert.doesNotMatch(kernelCmdline({ machine: 'microvm', accel: 'kvm', tscKhz: 2596124 }), /tsc/);
  assert.equal(tscKhzFromCpuinfo('processor\t: 0\ncpu MHz\t\t: 2596.124\n'), 2596124);
  assert.equal(tscKhzFromCpuinfo('processor\t: 0\n'), undefined);
});

test('under TCG isola\'s kernel is told the emulated APIC timer\'s rate (no 100 ms calibration); KVM and other kernels are not', () => {
  const c = kernelCmdline({ machine: 'microvm', accel: 'tcg', tscKhz: 2596124, guestKernel: 'isola' });
  assert.ok(c.split(' ').includes('lapic_timer_hz=1000000000'));
  assert.ok(!kernelCmdline({ machine: 'microvm', accel: 'kvm', guestKernel: 'isola' }).includes('lapic_timer_hz'), 'KVM\'s CPU has a TSC-deadline timer');
  assert.ok(!kernelCmdline({ machine: 'microvm', accel: 'tcg', tscKhz: 2596124, guestKernel: 'cloud' }).includes('lapic_timer_hz'));
  assert.ok(!kernelCmdline({ machine: 'microvm', accel: 'tcg', tscKhz: 2596124, guestKernel: 'custom' }).includes('lapic_timer_hz'));
  // The launch plan carries it to QEMU's -append.
  assert.ok(after(qemuArgs(plan({ guestKernel: 'isola' })), '-append')[0]?.split(' ').includes('lapic_timer_hz=1000000000'));
});

test('memory rounds up to MiB with a default; vCPUs round up to whole CPUs', () => {
  assert.equal(memoryMiB(undefined), 256);
  assert.equal(memoryMiB(512 * 1024 * 1024), 512);
  assert.equal(memoryMiB(100 * 1024 * 1024 + 1), 101);
  assert.equal(vcpus(undefined), 1);
  assert.equal(vcpus(0.5), 1);
  assert.equal(vcpus(1.5), 2);
  assert.equal(vcpus(2), 2);
});

test('shared folders: a shareable memfd RAM backend, modern virtio-mmio, one vhost-user-fs device per share', () => {
  const a = qemuArgs(plan({ shares: [{ tag: 'isola0', socket: '/run/vm/vfs0.sock' }, { tag: 'isola1', socket: '/run/vm/vfs1.sock' }] }));
  assert.deepEqual(after(a, '-M'), ['microvm,memory-backend=mem']);
  assert.deepEqual(after(a, '-object'), ['memory-backend-memfd,id=mem,size=256M,share=on'], 'the backend is the guest RAM');
  assert.deepEqual(after(a, '-global'), ['virtio-mmio.force-legacy=false']);
  assert.deepEqual(after(a, '-device').filter((d) => d.startsWith('vhost-user-fs')), ['vhost-user-fs-device,chardev=vfs0,tag=isola0', 'vhost-user-fs-device,chardev=vfs1,tag=isola1']);
  assert.ok(after(a, '-chardev').includes('socket,id=vfs1,path=/run/vm/vfs1.sock'));
  const q = qemuArgs(plan({ machine: 'q35', shares: [{ tag: 'isola0', socket: '/run/vm/vfs0.sock' }] }));
  assert.ok(after(q, '-device').includes('vhost-user-fs-pci,chardev=vfs0,tag=isola0'));
  assert.deepEqual(after(q, '-global'), []);
  const none = qemuArgs(plan());
  assert.deepEqual(after(none, '-object'), [], 'without shares the RAM stays QEMU\'s own');
  assert.deepEqual(after(none, '-global'), []);
});

test('microvm with pcie: its PCIe bus on, every virtio device a PCI one, no pci=off; older records keep virtio-mmio', () => {
  const a = qemuArgs(plan({ pcie: true, shares: [{ tag: 'isola0', socket: '/r/vfs0.sock' }] }));
  assert.deepEqual(after(a, '-M'), ['microvm,pcie=on,memory-backend=mem']);
  const devices = after(a, '-device').map((d) => d.split(',')[0] ?? '');
  assert.ok(devices.includes('virtio-blk-pci') && devices.includes('virtio-serial-pci') && devices.includes('virtio-net-pci') && devices.includes('vhost-user-fs-pci'), devices.join(' '));
  assert.ok(!devices.some((d) => d.endsWith('-device')), devices.join(' '));
  assert.ok(!a.includes('virtio-mmio.force-legacy=false'));
  assert.doesNotMatch(after(a, '-append')[0] ?? '', /pci=off/);
  const old = qemuArgs(plan());
  assert.ok(after(old, '-device').some((d) => d.startsWith('virtio-serial-device')));
  assert.match(after(old, '-append')[0] ?? '', /pci=off/);
});

test('TCG gets the translation cache size asked for; KVM has none', () => {
  assert.deepEqual(after(qemuArgs(plan({ tbSizeMiB: 16 })), '-accel'), ['tcg,tb-size=16']);
  assert.deepEqual(after(qemuArgs(plan({ accel: 'kvm', tbSizeMiB: 16 })), '-accel'), ['kvm']);
});
