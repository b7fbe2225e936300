import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import { run } from './exec.js';

/**
 * What `qemu-img info` says of a disk file, and the checks that make a disk from elsewhere safe
 * to open: a qcow2, VDI or VMDK can name other files (a backing file, a VMDK descriptor's
 * extents) by any path, which qemu-img would read, so a disk that does is refused rather than
 * copied with some of the host's files inside it.
 */
export const DISK_FORMATS = ['qcow2', 'vmdk', 'vdi', 'raw'] as const;
export type DiskFileFormat = (typeof DISK_FORMATS)[number];

export interface DiskInfo {
  format: string;
  virtualBytes: number;
  backing: string | null;
  /** A VMDK's extent files (a monolithic or stream-optimized one: itself). */
  extents: string[];
}

/**
 * What a disk file is, from its first bytes (never from its name, which may say otherwise):
 * qcow2, VMDK (sparse or a descriptor), VDI, or raw; archives, compressed files and formats
 * isola does not take are refused with the fix. A raw disk is whole 512-byte sectors.
 */
export function sniffDiskFormat(file: string): DiskFileFormat {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`disk file ${file} does not exist`, 'make one with isola export IMAGE --format qcow2 -o FILE');
    throw invalid(`cannot read disk file ${file}: ${(e as Error).message}`, 'check the path and its permissions');
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw invalid(`${file} is not a regular file`, 'give a disk image file');
    const head = Buffer.alloc(512);
    fs.readSync(fd, head, 0, 512, 0);
    const magic = (s: string, at = 0) => head.subarray(at, at + s.length).toString('latin1') === s;
    if (magic('QFI\xfb')) return 'qcow2';
    if (magic('KDMV') || magic('# Disk DescriptorFile')) return 'vmdk';
    if (head.readUInt32LE(0x40) === 0xbeda107f) return 'vdi';
    if (magic('ustar', 257)) throw invalid(`${file} is a tar archive, not a disk`, 'give the disk file itself (an OVA must be named .ova)');
    const packed = magic('\x1f\x8b') ? 'gzip' : magic('\xfd7zXZ') ? 'xz' : magic('\x28\xb5\x2f\xfd') ? 'zstd' : null;
    if (packed) throw invalid(`${file} is ${packed}-compressed`, 'decompress it first');
    if (magic('vhdxfile')) throw invalid(`${file} is a VHDX disk, which isola does not take`, `convert it: qemu-img convert -O qcow2 ${path.basename(file)} disk.qcow2`);
    if (st.size === 0 || st.size % 512 !== 0) throw invalid(`${file} is neither a known disk format nor a raw disk (${st.size} bytes, not a whole number of 512-byte sectors)`, 'give a qcow2, VMDK, VDI or raw disk');
    return 'raw';
  } finally {
    fs.closeSync(fd);
  }
}

export async function diskInfo(qemuImg: string, file: string, format: DiskFileFormat): Promise<DiskInfo> {
  const r = await run(qemuImg, ['info', '--output=json', '-f', format, file]);
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n').pop()?.replace(/^qemu-img: /, '') ?? '';
    throw invalid(`${path.basename(file)} is not a readable ${format} disk: ${why}`, 'check the file and its format (its name\'s extension says which)');
  }
  const j = JSON.parse(r.stdout) as {
    format: string; 'virtual-size': number; 'backing-filename'?: string;
    'format-specific'?: { type?: string; data?: { extents?: { filename?: string }[] } };
  };
  const extents = (j['format-specific']?.data?.extents ?? []).map((e) => e.filename ?? '').filter(Boolean);
  return { format: j.format, virtualBytes: j['virtual-size'], backing: j['backing-filename'] ?? null, extents };
}

/** Refuses a disk that would pull in other files: a backing file, or VMDK extents beside it. */
export function mustBeStandalone(info: DiskInfo, file: string): void {
  if (info.backing !== null) {
    throw new IsolaError('UNSAFE', `${path.basename(file)} names a backing file (${info.backing}), which isola does not follow`, `flatten it first: qemu-img convert -O qcow2 ${path.basename(file)} standalone.qcow2`);
  }
  const own = path.resolve(file);
  const foreign = info.extents.find((e) => path.resolve(path.dirname(own), e) !== own);
  if (foreign !== undefined) {
    throw new IsolaError('UNSAFE', `${path.basename(file)} is a VMDK descriptor naming the extent file ${foreign}`, 'give a single-file VMDK (monolithicSparse or streamOptimized), or convert it to qcow2 first');
  }
}

/** Converts (and flattens) a disk into a standalone qcow2. */
export async function convertToQcow2(qemuImg: string, file: string, format: DiskFileFormat, out: string): Promise<void> {
  const r = await run(qemuImg, ['convert', '-f', format, '-O', 'qcow2', file, out]);
  if (r.code !== 0) throw new IsolaError('INTERNAL', `qemu-img could not convert ${path.basename(file)}: ${r.stderr.trim()}`, 'check the disk is whole and there is free space under the data root');
}

/** `qemu-img check`: a qcow2's metadata is consistent (no leaks or corruptions). */
export async function checkDisk(qemuImg: string, file: string, format: DiskFileFormat): Promise<{ ok: boolean; output: string }> {
  const r = await run(qemuImg, ['check', '-f', format, file]);
  return { ok: r.code === 0, output: (r.stdout + r.stderr).trim() };
}
