import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, invalid } from '../core/errors.js';
import type { ImageStore } from '../image/store.js';
import { storeDiskImage, type DiskBus, type Firmware } from '../image/disk-image.js';
import type { Descriptor } from '../image/layout.js';
import { convertToQcow2, diskInfo, mustBeStandalone, sniffDiskFormat } from '../util/qemu-img.js';
import { run } from '../util/exec.js';
import { parseOvf } from './ovf.js';
import { unpackOva } from './ova.js';

/**
 * `isola import-vm`: a whole-disk VM from elsewhere (an OVA, or one disk file) stored as a
 * whole-disk image. The disk is checked (no backing files, no VMDK extents elsewhere), flattened
 * into one qcow2, and stored in KubeVirt's containerDisk layout with labels for its CPUs, memory
 * and firmware. An OVA's manifest is verified and its OVF descriptor read for CPUs, memory and
 * the disk. Whether isola's agent is inside is read off the disk itself: a boot partition whose
 * syslinux.cfg names the root the way isola's init does (a disk `isola export` made).
 */
export interface ImportOptions {
  scratch: string;
  qemuImg: string;
  firmware: Firmware;
  bus: DiskBus;
  cpus?: number;
  memoryMiB?: number;
  /** Recorded on the image, so `run --disk` finds the file's earlier import. */
  source?: string;
  /** The image's creation time (default now); a fixed one makes the same disk the same image. */
  created?: string;
  /** The image's history line (default: isola import-vm FILE). */
  history?: string;
  onStep?: (s: string) => void;
}

export interface ImportResult {
  digest: string;
  cpus: number;
  memoryMiB: number;
  agent: boolean;
  virtualBytes: number;
}

/** The first partition's offset when it is FAT (types 0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef), from the MBR. */
export function fatPartitionOffset(mbr: Buffer): number | null {
  if (mbr.length < 512 || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return null;
  for (let i = 0; i < 4; i++) {
    const e = 446 + i * 16;
    const type = mbr[e + 4] ?? 0;
    if ([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef].includes(type)) return mbr.readUInt32LE(e + 8) * 512;
  }
  return null;
}

/** Whether the disk boots isola's init: its FAT boot partition's syslinux.cfg says isola.root=. */
async function hasIsolaAgent(qemuImg: string, disk: string, scratch: string): Promise<boolean> {
  const head = path.join(scratch, 'head.raw');
  try {
    // The boot partition of an exported disk ends within its first 65 MiB.
    const r = await run(qemuImg, ['dd', '-f', 'qcow2', '-O', 'raw', 'bs=1M', 'count=65', `if=${disk}`, `of=${head}`]);
    if (r.code !== 0) return false;
    const fd = fs.openSync(head, 'r');
    const mbr = Buffer.alloc(512);
    fs.readSync(fd, mbr, 0, 512, 0);
    fs.closeSync(fd);
    const offset = fatPartitionOffset(mbr);
    if (offset === null) return false;
    const cfg = await run('mtype', ['-i', `${head}@@${offset}`, '::/syslinux.cfg'], { env: { MTOOLS_SKIP_CHECK: '1', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }).catch(() => null);
    return cfg !== null && cfg.code === 0 && /\bisola\.root=LABEL=/.test(cfg.stdout);
  } finally {
    fs.rmSync(head, { force: true });
  }
}

export async function importVm(store: ImageStore, file: string, ref: string, o: ImportOptions): Promise<ImportResult> {
  const step = o.onStep ?? (() => undefined);
  let disk = file;
  let cpus = o.cpus;
  let memoryMiB = o.memoryMiB;
  if (file.toLowerCase().endsWith('.ova')) {
    const dir = path.join(o.scratch, 'ova');
    fs.mkdirSync(dir, { recursive: true });
    step(`unpacking ${path.basename(file)} and checking its manifest`);
    const ovfName = await unpackOva(file, dir);
    const ovf = parseOvf(fs.readFileSync(path.join(dir, ovfName), 'utf8'), ovfName);
    if (ovf.diskFiles.length > 1) {
      throw invalid(`${ovfName} lists ${ovf.diskFiles.length} disks (${ovf.diskFiles.join(', ')}); isola boots a VM from one`, 'merge the data disks into the boot disk, or import the boot disk file alone');
    }
    const name = ovf.diskFiles[0] as string;
    if (!/^[A-Za-z0-9._-]+$/.test(name) || !fs.existsSync(path.join(dir, name))) {
      throw invalid(`${ovfName} names the disk ${name}, which ${path.basename(file)} does not hold`, 'the OVA is incomplete; export it again');
    }
    disk = path.join(dir, name);
    cpus ??= ovf.cpus;
    memoryMiB ??= ovf.memoryMiB;
  }
  const format = sniffDiskFormat(disk);
  const info = await diskInfo(o.qemuImg, disk, format);
  mustBeStandalone(info, disk);
  step(`converting ${path.basename(disk)} (${format}, ${(info.virtualBytes / 1048576).toFixed(0)} MiB) to qcow2`);
  const qcow2 = path.join(o.scratch, 'disk.qcow2');
  await convertToQcow2(o.qemuImg, disk, format, qcow2);
  if (disk !== file) fs.rmSync(disk, { force: true });
  const agent = await hasIsolaAgent(o.qemuImg, qcow2, o.scratch);
  const facts = { cpus: cpus ?? 1, memoryMiB: memoryMiB ?? 512, agent, firmware: o.firmware, bus: o.bus };
  step(`storing it as ${ref} (${agent ? 'isola\'s init inside: exec and stats work' : 'its own OS: logs from its serial console'})`);
  let desc: Descriptor;
  try {
    desc = await storeDiskImage(store, qcow2, ref, { ...facts, description: o.history ?? `isola import-vm ${path.basename(file)}`, source: o.source, created: o.created }, o.scratch);
  } catch (e) {
    if (e instanceof IsolaError) throw e;
    throw new IsolaError('INTERNAL', `storing the disk of ${path.basename(file)} failed: ${(e as Error).message}`, 'check free space under the data root');
  } finally {
    fs.rmSync(qcow2, { force: true });
  }
  return { digest: desc.digest, ...facts, virtualBytes: info.virtualBytes };
}
