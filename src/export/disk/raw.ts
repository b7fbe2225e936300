import fs from 'node:fs';
import { IsolaError } from '../../core/errors.js';
import { run } from '../../util/exec.js';
import { sfdiskScript, type DiskLayout } from './layout.js';

/** syslinux's MBR boot code: it chains to the active partition's boot sector. */
export const MBR_CODE = '/usr/lib/syslinux/mbr/mbr.bin';

/** Copies `src` into `fd` at `offset`, skipping all-zero blocks so the disk stays sparse. */
function copyInto(fd: number, src: string, offset: number): void {
  const block = Buffer.alloc(1024 * 1024);
  const zero = Buffer.alloc(block.length);
  const input = fs.openSync(src, 'r');
  try {
    for (let pos = 0; ; pos += block.length) {
      const n = fs.readSync(input, block, 0, block.length, pos);
      if (n === 0) break;
      if (!block.subarray(0, n).equals(zero.subarray(0, n))) fs.writeSync(fd, block, 0, n, offset + pos);
    }
  } finally {
    fs.closeSync(input);
  }
}

/**
 * A raw disk: the partition table (sfdisk on the file itself), syslinux's MBR code in the first
 * 440 bytes (the partition table after them stays), then each partition's image at its offset.
 */
export async function assembleRawDisk(out: string, layout: DiskLayout, bootImage: string, rootImage: string): Promise<void> {
  fs.writeFileSync(out, '');
  fs.truncateSync(out, layout.totalBytes);
  const r = await run('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', out], { input: sfdiskScript(layout) }).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.code !== 0) throw new IsolaError('UNAVAILABLE', `sfdisk could not write the partition table: ${r.stderr.trim()}`, 'install Debian\'s fdisk package (npm run bootstrap does)');
  if (!fs.existsSync(MBR_CODE)) throw new IsolaError('UNAVAILABLE', `${MBR_CODE} is missing`, 'install Debian\'s syslinux-common (npm run bootstrap does)');
  const code = fs.readFileSync(MBR_CODE).subarray(0, 440);
  const fd = fs.openSync(out, 'r+');
  try {
    fs.writeSync(fd, code, 0, code.length, 0);
    copyInto(fd, bootImage, layout.boot.offset);
    copyInto(fd, rootImage, layout.root.offset);
  } finally {
    fs.closeSync(fd);
  }
}
