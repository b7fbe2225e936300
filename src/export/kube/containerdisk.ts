import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, invalid, notFound } from '../../core/errors.js';
import { commitImage } from '../../image/compose.js';
import { storeLayer } from '../../image/layer.js';
import type { Descriptor } from '../../image/layout.js';
import type { ImageStore } from '../../image/store.js';

/** The qemu user of KubeVirt's virt-launcher, which must read the disk (KubeVirt's containerDisk docs). */
export const QEMU_UID = 107;
export const DISK_MODE = 0o440;
/** A fixed timestamp: the same disk gives the same layer and image digest. */
const EPOCH = new Date('2024-01-01T00:00:00Z');

export type DiskFormat = 'qcow2' | 'raw';

/**
 * What the file is, from its first bytes: qcow2 (standalone: a backing file would not travel
 * with it), raw, or something KubeVirt cannot boot from a containerDisk (refused, with the fix).
 */
export function diskFormat(file: string): DiskFormat {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`disk file ${file} does not exist`, 'make one with isola export IMAGE --format qcow2 -o FILE');
    throw invalid(`cannot read disk file ${file}: ${(e as Error).message}`, 'check the path and its permissions');
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw invalid(`${file} is not a regular file`, 'give a qcow2 or raw disk image file');
    const head = Buffer.alloc(512);
    fs.readSync(fd, head, 0, 512, 0);
    const magic = (s: string) => head.subarray(0, s.length).toString('latin1') === s;
    if (magic('QFI\xfb')) {
      if (head.readBigUInt64BE(8) !== 0n) throw invalid(`${file} is a qcow2 overlay with a backing file, which would not travel with it`, `make it standalone: qemu-img convert -O qcow2 ${file} disk.qcow2`);
      return 'qcow2';
    }
    const other = magic('KDMV') ? 'vmdk' : magic('vhdxfile') ? 'vhdx' : magic('<<< ') ? 'vdi'
      : magic('\x1f\x8b') ? 'gzip' : magic('\xfd7zXZ') ? 'xz' : magic('\x28\xb5\x2f\xfd') ? 'zstd' : undefined;
    if (head.subarray(257, 262).toString('latin1') === 'ustar') throw invalid(`${file} is a tar archive, not a disk`, 'give the qcow2 or raw disk file itself');
    if (other === 'gzip' || other === 'xz' || other === 'zstd') throw invalid(`${file} is ${other}-compressed`, 'decompress it first; the image layer is compressed anyway');
    if (other) throw invalid(`${file} is a ${other} disk; a containerDisk holds qcow2 or raw`, `convert it: qemu-img convert -O qcow2 ${file} disk.qcow2`);
    if (st.size === 0 || st.size % 512 !== 0) throw invalid(`${file} is neither qcow2 nor a raw disk (${st.size} bytes, not a whole number of 512-byte sectors)`, 'give a qcow2 or raw disk image');
    return 'raw';
  } finally {
    fs.closeSync(fd);
  }
}

/** The file's name inside the image: /disk/NAME.qcow2 (or .img for raw). */
export function diskEntryName(file: string, format: DiskFormat): string {
  const base = path.basename(file).replace(/\.(qcow2|img|raw)$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+/, '') || 'disk';
  return `disk/${base}.${format === 'qcow2' ? 'qcow2' : 'img'}`;
}

/**
 * Builds a KubeVirt containerDisk into the store as `ref`: an OCI image with no base (FROM
 * scratch) and one layer holding the disk at /disk/NAME, owned by uid and gid 107 (qemu), mode
 * 0440, as KubeVirt's containerDisk documentation asks. No command: nothing runs it but KubeVirt.
 * `isola push` sends it to a registry the cluster pulls from.
 */
export async function buildContainerDisk(store: ImageStore, file: string, ref: string): Promise<{ desc: Descriptor; entry: string; format: DiskFormat }> {
  const format = diskFormat(file);
  const entry = diskEntryName(file, format);
  const stage = store.tempPath();
  fs.mkdirSync(path.join(stage, 'root', 'disk'), { recursive: true, mode: 0o700 });
  try {
    // A link, followed by tar: the disk needs no staging copy of its own; the uncompressed layer tar
    // (disk size) is written to the store's temp area, then compressed into the blob, then removed.
    fs.symlinkSync(path.resolve(file), path.join(stage, 'root', entry));
    const tarFile = path.join(stage, 'layer.tar');
    const { create: createTar } = await import('tar');
    await createTar({
      file: tarFile, cwd: path.join(stage, 'root'), follow: true, noPax: true, noDirRecurse: true, mtime: EPOCH,
      onWriteEntry: (e) => {
        if (!e.stat) return;
        const dir = e.type === 'Directory';
        Object.assign(e.stat, { uid: QEMU_UID, gid: QEMU_UID, mode: (e.stat.mode & ~0o7777) | (dir ? 0o555 : DISK_MODE), atime: EPOCH, ctime: EPOCH });
      },
    }, ['disk', entry]);
    const desc = await store.withLease(async () => {
      const layer = await storeLayer(store, tarFile);
      return commitImage(store, ref, {
        layers: [layer],
        created: EPOCH.toISOString(),
        history: `isola kube containerdisk: ${path.basename(file)} (${format}) at /${entry}`,
        config: { Labels: { 'org.opencontainers.image.description': `KubeVirt containerDisk: /${entry}` } },
      });
    });
    return { desc, entry, format };
  } catch (e) {
    if (e instanceof IsolaError) throw e;
    throw new IsolaError('INTERNAL', `could not build the containerDisk: ${(e as Error).message}`, 'check free space under the data root', { cause: e });
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
