import { SANDBOX, agentPorts, nicArgs, optValue, shareArgs, type LaunchPlan } from './launch.js';

/**
 * QEMU's command line for a whole-disk VM: the classic PC (q35), its firmware (SeaBIOS, or OVMF
 * for UEFI) reading the disk's own bootloader, kernel and OS; no -kernel. Pure, like qemuArgs.
 *
 * - The firmware's own log goes to the debug port (isa-debugcon at 0x402, where SeaBIOS and
 *   OVMF write it): isola reads "No bootable device" there. `-boot reboot-timeout=0` and
 *   -no-reboot make that failure end QEMU at once instead of retrying every 60 s forever.
 * - The instance's overlay sits on the image's disk (qcow2), whose own backing is switched off
 *   (`"backing": null`), so a disk naming a backing file cannot make QEMU open it.
 * - With isola's init inside (`agent`), the same virtio-serial ports as every VM, and the
 *   instance's config (command, environment, address) by fw_cfg, which the init reads over the
 *   one baked into the disk's initramfs; shared folders over virtiofs as in every VM. With its
 *   own OS, by fw_cfg too when it has an address: the address, gateway and hostname only (as
 *   Ignition reads its config on QEMU).
 */
export interface WholeDiskBoot {
  firmware: 'bios' | 'uefi';
  bus: 'virtio' | 'sata';
  agent: boolean;
  /** The instance's config (isola's init: all of it; own OS: address and hostname), as QEMU sees the file. */
  config: string | null;
  /** The firmware's debug log, as QEMU sees it. */
  firmwareLog: string;
  /** UEFI: OVMF's code (read-only) and this VM's own variable store. */
  ovmf: { code: string; vars: string } | null;
}

/** Where Debian's ovmf package puts the firmware (the 4 MiB build; the 2 MiB one is deprecated). */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** The fw_cfg name isola's init reads the instance's config from. */
export const FW_CFG_CONFIG = 'opt/isola/config';

export function wholeDiskArgs(p: LaunchPlan, w: WholeDiskBoot): string[] {
  const f = p.files;
  const disk = JSON.stringify({
    'driver': 'qcow2', 'node-name': 'root', 'discard': 'unmap', 'read-only': p.readOnly,
    'file': { driver: 'file', filename: p.disk },
    'backing': { 'driver': 'qcow2', 'read-only': true, 'file': { driver: 'file', filename: p.baseDisk }, 'backing': null },
  });
  // Shared folders need isola's init inside, which mounts them, and shareable guest memory (virtiofsd maps it).
  const shares = w.agent ? (p.shares ?? []) : [];
  const machine = ['q35', ...(w.ovmf ? ['pflash0=fw-code', 'pflash1=fw-vars'] : []), ...(shares.length ? ['memory-backend=mem'] : [])].join(',');
  const args: string[] = [
    '-name', `isola-${p.id}`,
    '-sandbox', SANDBOX,
    ...(w.ovmf ? [
      '-blockdev', JSON.stringify({ 'driver': 'file', 'node-name': 'fw-code', 'filename': w.ovmf.code, 'read-only': true }),
      '-blockdev', JSON.stringify({ 'driver': 'file', 'node-name': 'fw-vars', 'filename': w.ovmf.vars }),
    ] : []),
    '-M', machine,
    '-accel', p.accel,
    ...(p.cpu === 'default' ? [] : ['-cpu', p.cpu]),
    '-m', `${p.memoryMiB}M`,
    '-smp', String(p.cpus),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-boot', 'strict=on,reboot-timeout=0',
    '-chardev', `file,id=console,path=${optValue(f.console)},append=on`,
    '-serial', 'chardev:console',
    '-chardev', `file,id=firmware,path=${optValue(w.firmwareLog)}`,
    '-device', 'isa-debugcon,iobase=0x402,chardev=firmware',
    '-blockdev', disk,
    '-device', w.bus === 'virtio' ? 'virtio-blk-pci,drive=root,bootindex=0' : 'ide-hd,drive=root,bus=ide.0,bootindex=0',
  ];
  if (w.agent) {
    args.push(
      '-device', 'virtio-serial-pci,max_ports=8',
      ...agentPorts(f),
    );
  }
  if (shares.length) args.push(...shareArgs(shares, p.memoryMiB, 'vhost-user-fs-pci'));
  // With isola's init: the whole config. With its own OS: the address and hostname only, for an
  // OS that reads them (isola compare's full-OS image does; any other ignores fw_cfg).
  if (w.config) args.push('-fw_cfg', `name=${FW_CFG_CONFIG},file=${optValue(w.config)}`);
  args.push('-qmp', `unix:${optValue(f.qmp)},server=on,wait=off`, '-pidfile', f.pidfile);
  args.push(...nicArgs(p.nets, w.bus === 'virtio' ? 'virtio-net-pci' : 'e1000e'));
  return args;
}
