import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, invalid } from '../../core/errors.js';
import type { ResolvedImage } from '../../core/types.js';
import { unpackLayers, type UnpackLimits } from '../../image/unpack.js';
import type { GuestAssets } from '../../guest/assets.js';
import { buildInitramfs } from '../../guest/setup.js';
import { cpioArchive } from '../../guest/cpio.js';
import { encodeRecords } from '../../guest/records.js';
import { makeExt4 } from '../../guest/ext4.js';
import { run } from '../../util/exec.js';
import { BOOT_LABEL, BOOT_PARTITION_BYTES, makeBootPartition } from './boot-partition.js';
import { diskLayout, grubConfig, kernelAppend, syslinuxConfig, type BootKind } from './layout.js';
import { findOwnKernel } from './own-kernel.js';
import { assembleRawDisk } from './raw.js';
import { ovfDescriptor } from '../ovf.js';
import { packOva } from '../ova.js';

/**
 * `isola export`: any image as a whole, bootable disk, the way a hypervisor runs a VM: an MBR
 * with syslinux's boot code, a FAT boot partition holding a kernel, an initramfs, syslinux (BIOS)
 * and GRUB (UEFI), and an ext4 root partition with the image's files. Then converted to the
 * format asked for; an OVA wraps a streamOptimized VMDK with its OVF descriptor and a SHA-256
 * manifest.
 *
 * Which kernel and init boot (`boot`):
 * - isola: Debian's cloud kernel and isola's init, with the modules a virtio, IDE or SCSI disk
 *   needs and the workload's command and environment. The init finds its root by label, runs the
 *   image's entrypoint, and powers off when it ends. Under isola it is the agent (exec, stats).
 * - os: the image's own kernel, initramfs and init (/boot/vmlinuz-*, /sbin/init): a full OS,
 *   such as a Debian image with systemd and a kernel package, booted as any installed system.
 */
export const FORMATS = ['qcow2', 'vmdk', 'vdi', 'raw', 'ova'] as const;
export type DiskFormat = (typeof FORMATS)[number];
export const ROOT_LABEL = 'isola-root';

export interface ExportRequest {
  image: ResolvedImage;
  /** Layer tars applied on top (an instance's changes). */
  extraLayers: string[];
  workload: { argv: string[]; env: string[]; workdir: string; user: string; hostname: string };
  cpus: number;
  memoryMiB: number;
  /** Free space the root partition gets beyond the image's files. */
  freeBytes: number;
  format: DiskFormat;
  out: string;
  scratch: string;
  assets: GuestAssets;
  /** 'auto': the image's own kernel when it has one (a full OS), else isola's. */
  boot: BootKind | 'auto';
  qemuImg: string;
  limits: UnpackLimits;
  onStep?: (s: string) => void;
}

export function parseBoot(text: string): BootKind | 'auto' {
  if (text !== 'auto' && text !== 'isola' && text !== 'os') throw invalid(`unknown --boot "${text}"`, 'use --boot auto, isola (isola\'s kernel runs the image\'s command) or os (the image\'s own kernel and init)');
  return text;
}

export function parseFormat(text: string): DiskFormat {
  if (!(FORMATS as readonly string[]).includes(text)) throw invalid(`unknown export format "${text}"`, `use --format ${FORMATS.join('|')}`);
  return text as DiskFormat;
}

async function convert(qemuImg: string, raw: string, out: string, format: string, options: string[] = []): Promise<void> {
  const r = await run(qemuImg, ['convert', '-f', 'raw', '-O', format, ...options, raw, out]);
  if (r.code !== 0) throw new IsolaError('INTERNAL', `qemu-img could not write the ${format} disk: ${r.stderr.trim()}`, 'check free space where -o points');
}

export interface ExportResult {
  bytes: number;
  virtualBytes: number;
  boot: BootKind;
  /** The kernel that boots: isola's or the image's own (its version). */
  kernel: string;
}

/** Writes the disk (or OVA) to r.out; resolves with its size on disk and what boots it. */
export async function exportDisk(r: ExportRequest): Promise<ExportResult> {
  const step = r.onStep ?? (() => undefined);
  fs.mkdirSync(r.scratch, { recursive: true });
  const tree = path.join(r.scratch, 'root');
  step(`unpacking ${r.image.ref}`);
  await unpackLayers(r.image.layers, tree, { ...r.limits, expectedDigests: r.image.layerDigests });
  if (r.extraLayers.length > 0) await unpackLayers(r.extraLayers, tree, r.limits);
  const own = findOwnKernel(tree);
  if (r.boot === 'os' && !own) {
    throw invalid(`image ${r.image.ref} has no kernel of its own (/boot/vmlinuz-* with its /boot/initrd.img-* and /sbin/init)`, 'install a kernel package in the image, or export with --boot isola');
  }
  const boot: BootKind = r.boot === 'auto' ? (own ? 'os' : 'isola') : r.boot;
  if (boot === 'isola' && r.workload.argv.length === 0) throw invalid(`image ${r.image.ref} has no command to run`, 'give the command after the image name, as the disk runs it at boot');
  // The boot partition holds the kernel and initramfs; they need not stay in the root too.
  const kernel = boot === 'os' && own ? own : { kernel: r.assets.kernel, initrd: '', version: r.assets.kernelVersion };
  const stagedKernel = path.join(r.scratch, 'vmlinuz');
  fs.copyFileSync(kernel.kernel, stagedKernel);
  const initrd = path.join(r.scratch, 'initrd.img');
  if (boot === 'os') fs.copyFileSync(kernel.initrd, initrd);
  step('making the root partition (ext4)');
  const rootImg = path.join(r.scratch, 'root.ext4');
  const rootBytes = await makeExt4(tree, rootImg, ROOT_LABEL, `the root partition of ${r.image.ref}`, r.freeBytes);
  fs.rmSync(tree, { recursive: true, force: true });

  step(`making the boot partition (FAT: ${boot === 'os' ? `the image's kernel ${kernel.version}` : `isola's kernel ${kernel.version} and init`}, syslinux, GRUB for UEFI)`);
  if (boot === 'isola') {
    const config = encodeRecords({ ...r.workload, readOnly: false });
    fs.writeFileSync(initrd, Buffer.concat([
      buildInitramfs(r.assets.init, r.assets.kernelDir, r.assets.modules, r.assets.diskModules),
      cpioArchive([{ type: 'dir', name: 'isola' }, { type: 'file', name: 'isola/config', data: config }]),
    ]));
  }
  const bootImg = path.join(r.scratch, 'boot.fat');
  const append = kernelAppend({ boot, rootLabel: ROOT_LABEL });
  await makeBootPartition(bootImg, { kernel: stagedKernel, initrd, syslinuxCfg: syslinuxConfig(append), grubCfg: grubConfig(append, BOOT_LABEL) });
  fs.rmSync(stagedKernel, { force: true });
  fs.rmSync(initrd, { force: true });

  step('assembling the disk (MBR, two partitions)');
  const layout = diskLayout(BOOT_PARTITION_BYTES, rootBytes);
  const raw = path.join(r.scratch, 'disk.raw');
  await assembleRawDisk(raw, layout, bootImg, rootImg);
  fs.rmSync(rootImg, { force: true });
  fs.rmSync(bootImg, { force: true });

  const tmpOut = `${r.out}.${process.pid}.tmp`;
  try {
    step(`writing ${r.format}`);
    if (r.format === 'raw') fs.copyFileSync(raw, tmpOut);
    else if (r.format === 'qcow2') await convert(r.qemuImg, raw, tmpOut, 'qcow2');
    else if (r.format === 'vdi') await convert(r.qemuImg, raw, tmpOut, 'vdi');
    else if (r.format === 'vmdk') await convert(r.qemuImg, raw, tmpOut, 'vmdk', ['-o', 'subformat=monolithicSparse']);
    else {
      const dir = path.join(r.scratch, 'ova');
      fs.mkdirSync(dir);
      const name = path.basename(r.out).replace(/\.ova$/i, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'isola-vm';
      const vmdk = `${name}-disk1.vmdk`;
      await convert(r.qemuImg, raw, path.join(dir, vmdk), 'vmdk', ['-o', 'subformat=streamOptimized']);
      fs.writeFileSync(path.join(dir, `${name}.ovf`), ovfDescriptor({
        name, description: `${r.image.ref} exported by isola as a whole-disk VM`, cpus: r.cpus, memoryMiB: r.memoryMiB,
        os: boot === 'os' ? `Linux ${kernel.version}, the image's own init` : `Linux ${kernel.version}, isola's init running the image's command`,
        disk: { file: vmdk, fileBytes: fs.statSync(path.join(dir, vmdk)).size, capacityBytes: layout.totalBytes },
      }));
      await packOva(tmpOut, dir, `${name}.ovf`, [vmdk]);
    }
    fs.renameSync(tmpOut, r.out);
  } finally {
    fs.rmSync(tmpOut, { force: true });
    fs.rmSync(raw, { force: true });
  }
  return { bytes: fs.statSync(r.out).size, virtualBytes: layout.totalBytes, boot, kernel: kernel.version };
}
