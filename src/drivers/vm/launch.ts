import type { Accel } from './accel.js';
import { kernelCmdline } from '../../guest/cmdline.js';

export { kernelCmdline, tscKhzFromCpuinfo } from '../../guest/cmdline.js';

/**
 * QEMU's command line for one isola VM. Pure: everything comes in through LaunchPlan, so the
 * argv is unit-tested without QEMU and the bench can print the exact line it compares against.
 */
export type Machine = 'microvm' | 'q35';

export interface LaunchFiles {
  console: string; // serial console (kernel and init messages), for `isola console`
  log: string; // the workload's stdout/stderr as CRI log lines (virtio-serial port isola.log)
  status: string; // init's status lines: started / error / exit (port isola.status)
  pidfile: string;
  qmp: string; // QMP unix socket
  agent: string; // exec channel (port isola.agent)
  ctl: string; // stats, signals, shutdown (port isola.ctl)
}

export interface LaunchPlan {
  id: string;
  qemu: string;
  accel: Accel;
  /** -cpu model; 'default' leaves QEMU's own. */
  cpu: string;
  machine: Machine;
  memoryMiB: number;
  cpus: number;
  kernel: string;
  initrd: string;
  disk: string; // the instance's qcow2 overlay
  readOnly: boolean;
  files: LaunchFiles;
  net: { tap: string; mac: string } | null;
  /** TCG only: the host's TSC rate, which is the guest's under TCG (see kernelCmdline). */
  tscKhz?: number;
  /** Extra kernel command line words (tests use it to break the boot on purpose). */
  extraCmdline?: string[];
  daemonize: boolean;
}

/** Guest RAM below this does not boot the cloud kernel and initramfs (measured with QEMU 7.2: 80 MiB panics, 96 MiB boots). */
export const MIN_MEMORY_MIB = 96;
export const DEFAULT_MEMORY_MIB = 256;

/** Round a byte count up to whole MiB for -m, and a CPU fraction up to whole vCPUs for -smp. */
export function memoryMiB(bytes: number | undefined): number {
  return bytes === undefined ? DEFAULT_MEMORY_MIB : Math.ceil(bytes / (1024 * 1024));
}

export function vcpus(cpus: number | undefined): number {
  return cpus === undefined || cpus <= 0 ? 1 : Math.ceil(cpus);
}

/** QEMU option values escape commas by doubling them. */
export function optValue(s: string): string {
  return s.replace(/,/g, ',,');
}

export function qemuArgs(p: LaunchPlan): string[] {
  const dev = (kind: 'blk' | 'net' | 'serial'): string =>
    p.machine === 'microvm' ? `virtio-${kind}-device` : `virtio-${kind}-pci`;
  const f = p.files;
  const args: string[] = [
    '-name', `isola-${p.id}`,
    // microvm with its default ACPI: this kernel finds virtio-mmio devices through ACPI only
    // (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is off). Firmware: qboot (bios-microvm.bin).
    '-M', p.machine === 'microvm' ? 'microvm' : 'q35',
    '-accel', p.accel,
    ...(p.cpu === 'default' ? [] : ['-cpu', p.cpu]),
    '-m', `${p.memoryMiB}M`,
    '-smp', String(p.cpus),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-chardev', `file,id=console,path=${optValue(f.console)},append=on`,
    '-serial', 'chardev:console',
    '-kernel', p.kernel,
    '-initrd', p.initrd,
    '-append', kernelCmdline(p),
    '-drive', `id=root,file=${optValue(p.disk)},format=qcow2,if=none,discard=unmap${p.readOnly ? ',readonly=on' : ''}`,
    '-device', `${dev('blk')},drive=root`,
    '-device', `${dev('serial')},max_ports=8`,
    '-chardev', `file,id=log,path=${optValue(f.log)},append=on`,
    '-device', 'virtserialport,chardev=log,name=isola.log',
    '-chardev', `file,id=status,path=${optValue(f.status)},append=on`,
    '-device', 'virtserialport,chardev=status,name=isola.status',
    '-chardev', `socket,id=agent,path=${optValue(f.agent)},server=on,wait=off`,
    '-device', 'virtserialport,chardev=agent,name=isola.agent',
    '-chardev', `socket,id=ctl,path=${optValue(f.ctl)},server=on,wait=off`,
    '-device', 'virtserialport,chardev=ctl,name=isola.ctl',
    '-qmp', `unix:${optValue(f.qmp)},server=on,wait=off`,
  ];
  if (p.net) {
    args.push('-netdev', `tap,id=net0,ifname=${p.net.tap},script=no,downscript=no`);
    args.push('-device', `${dev('net')},netdev=net0,mac=${p.net.mac}`);
  }
  if (p.daemonize) args.push('-daemonize', '-pidfile', f.pidfile);
  return args;
}
