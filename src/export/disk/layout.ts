/**
 * The partition layout of a whole disk made by `isola export`: an MBR (DOS) partition table,
 * partition 1 a small FAT boot partition (active: syslinux loads the kernel from it), partition 2
 * the ext4 root. Both start on 1 MiB boundaries, as fdisk aligns them.
 */
export const SECTOR = 512;
const MIB = 1024 * 1024;

export interface DiskLayout {
  totalBytes: number;
  boot: { offset: number; size: number };
  root: { offset: number; size: number };
}

export function diskLayout(bootBytes: number, rootBytes: number): DiskLayout {
  const align = (n: number) => Math.ceil(n / MIB) * MIB;
  const boot = { offset: MIB, size: align(bootBytes) };
  const root = { offset: boot.offset + boot.size, size: align(rootBytes) };
  return { totalBytes: root.offset + root.size, boot, root };
}

/** The sfdisk script for the layout: FAT32 (LBA) boot partition marked active, then Linux. */
export function sfdiskScript(l: DiskLayout): string {
  const s = (n: number) => n / SECTOR;
  return [
    'label: dos',
    `start=${s(l.boot.offset)}, size=${s(l.boot.size)}, type=c, bootable`,
    `start=${s(l.root.offset)}, size=${s(l.root.size)}, type=83`,
    '',
  ].join('\n');
}

/**
 * What boots: isola's kernel and init running the image's command (`isola.root` names the
 * root for isola's init), or the image's own kernel, initramfs and init (a full OS: `root=`
 * for its initramfs, read-write as systemd expects without an fstab entry).
 */
export type BootKind = 'isola' | 'os';

export function kernelAppend(o: { boot: BootKind; rootLabel: string; extra?: string[] }): string {
  const root = o.boot === 'isola' ? ['quiet', 'panic=-1', `isola.root=LABEL=${o.rootLabel}`] : [`root=LABEL=${o.rootLabel}`, 'rw'];
  return ['console=tty0', 'console=ttyS0,115200', ...root, ...(o.extra ?? [])].join(' ');
}

/** syslinux's configuration (BIOS): the kernel, the initramfs and their command line. */
export function syslinuxConfig(append: string): string {
  return [
    'SERIAL 0 115200',
    'DEFAULT isola',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL isola',
    '  KERNEL /vmlinuz',
    '  INITRD /initrd.img',
    `  APPEND ${append}`,
    '',
  ].join('\n');
}

/** GRUB's configuration (UEFI), built into its EFI program: the same kernel, initramfs and command line. */
export function grubConfig(append: string, bootLabel: string): string {
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    `search --no-floppy --set=root --label ${bootLabel}`,
    `linux /vmlinuz ${append}`,
    'initrd /initrd.img',
    'boot',
    '',
  ].join('\n');
}
