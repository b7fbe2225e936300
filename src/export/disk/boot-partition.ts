import fs from 'node:fs';
import path from 'node:path';
import { IsolaError } from '../../core/errors.js';
import { run } from '../../util/exec.js';

/**
 * The boot partition as a FAT image, made without mounting anything: mkfs.vfat on a file, the
 * kernel, initramfs and syslinux.cfg copied in with mtools, and syslinux's loader installed into
 * the image by `syslinux --install` (the mtools variant, which also needs no mount). For UEFI
 * firmware it also holds \EFI\BOOT\BOOTX64.EFI, the removable-media path every UEFI firmware
 * tries: GRUB made by grub-mkstandalone with its configuration inside. So one disk boots under
 * BIOS (SeaBIOS, VirtualBox, VMware) and UEFI (OVMF) alike.
 */
export const BOOT_PARTITION_BYTES = 64 * 1024 * 1024;
export const BOOT_LABEL = 'ISOLABOOT';
/** GRUB's modules for the EFI program: MBR partitions, FAT, the serial console, search by label, Linux. */
const GRUB_MODULES = ['part_msdos', 'fat', 'search', 'search_label', 'serial', 'terminal', 'linux', 'normal', 'configfile', 'echo'];

async function must(what: string, cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args, { env: { MTOOLS_SKIP_CHECK: '1', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.code !== 0) {
    throw new IsolaError('UNAVAILABLE', `${what} failed: ${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').pop() ?? ''}`,
      'install Debian\'s dosfstools, mtools, syslinux and grub-efi-amd64-bin (npm run bootstrap does)');
  }
}

export async function makeBootPartition(file: string, o: { kernel: string; initrd: string; syslinuxCfg: string; grubCfg: string }): Promise<void> {
  fs.rmSync(file, { force: true });
  await must('making the boot partition', 'mkfs.vfat', ['-n', BOOT_LABEL, '-C', file, String(BOOT_PARTITION_BYTES / 1024)]);
  const dir = path.dirname(file);
  const cfg = path.join(dir, 'syslinux.cfg');
  const grubCfg = path.join(dir, 'grub.cfg');
  const efi = path.join(dir, 'BOOTX64.EFI');
  fs.writeFileSync(cfg, o.syslinuxCfg);
  fs.writeFileSync(grubCfg, o.grubCfg);
  try {
    await must('making the UEFI loader', 'grub-mkstandalone', [
      '-O', 'x86_64-efi', '-o', efi, '--install-modules', GRUB_MODULES.join(' '), '--modules', GRUB_MODULES.join(' '),
      '--locales=', '--fonts=', '--themes=', `boot/grub/grub.cfg=${grubCfg}`,
    ]);
    await must('copying the kernel', 'mcopy', ['-i', file, o.kernel, '::/vmlinuz']);
    await must('copying the initramfs', 'mcopy', ['-i', file, o.initrd, '::/initrd.img']);
    await must('copying syslinux.cfg', 'mcopy', ['-i', file, cfg, '::/syslinux.cfg']);
    await must('making the UEFI folders', 'mmd', ['-i', file, '::/EFI', '::/EFI/BOOT']);
    await must('copying the UEFI loader', 'mcopy', ['-i', file, efi, '::/EFI/BOOT/BOOTX64.EFI']);
  } finally {
    for (const f of [cfg, grubCfg, efi]) fs.rmSync(f, { force: true });
  }
  await must('installing syslinux', 'syslinux', ['--install', file]);
}
