import { SANDBOX, optValue, type LaunchPlan } from './launch.js';

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
 *   one baked into the disk's initramfs; shared folders over virtiofs as in every VM.
 */
export interface WholeDiskBoot {
  firmware: 'bios' | 'uefi';
  bus: 'virtio' | 'sata';
  agent: boolean;
  /** The instance's config for isola's init (agent only), as QEMU sees the file. */
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
      '-chardev', `file,id=log,path=${optValue(f.log)},append=on`,
      '-device', 'virtserialport,chardev=log,name=isola.log',
      '-chardev', `file,id=status,path=${optValue(f.status)},append=on`,
      '-device', 'virtserialport,chardev=status,name=isola.status',
      '-chardev', `socket,id=agent,path=${optValue(f.agent)},server=on,wait=off`,
      '-device', 'virtserialport,chardev=agent,name=isola.agent',
      '-chardev', `socket,id=ctl,path=${optValue(f.ctl)},server=on,wait=off`,
      '-device', 'virtserialport,chardev=ctl,name=isola.ctl',
    );
    if (w.config) args.push('-fw_cfg', `name=${FW_CFG_CONFIG},file=${optValue(w.config)}`);
  }
  if (shares.length) {
    args.push('-object', `memory-backend-memfd,id=mem,size=${p.memoryMiB}M,share=on`);
    for (const [i, s] of shares.entries()) {
      args.push('-chardev', `socket,id=vfs${i},path=${optValue(s.socket)}`, '-device', `vhost-user-fs-pci,chardev=vfs${i},tag=${s.tag}`);
    }
  }
  args.push('-qmp', `unix:${optValue(f.qmp)},server=on,wait=off`, '-pidfile', f.pidfile);
  p.nets.forEach((n, i) => {
    args.push('-netdev', `tap,id=net${i},fd=${3 + i},vhost=off`);
    args.push('-device', `${w.bus === 'virtio' ? 'virtio-net-pci' : 'e1000e'},netdev=net${i},mac=${n.mac}`);
  });
  return args;
}
