import type { ImageStore } from '../../image/store.js';
import { DISK_PATH } from '../../image/disk-image.js';
import { importVm, type ImportResult } from '../import-vm.js';

/**
 * `isola kube containerdisk`: a KubeVirt containerDisk from a disk file. It is the image
 * `isola import-vm` stores (one layer, the disk flattened to a standalone qcow2 at
 * /disk/disk.qcow2, uid and gid 107, mode 0440: KubeVirt's containerDisk layout), so the image a
 * cluster boots is the one `isola run --as vm` boots here. Created at a fixed time: the same disk
 * makes the same image digest. `isola push` sends it to a registry the cluster pulls from.
 */
export const CONTAINERDISK_EPOCH = '2024-01-01T00:00:00Z';
export const CONTAINERDISK_ENTRY = DISK_PATH.slice(1);

export async function buildContainerDisk(store: ImageStore, file: string, ref: string, o: { qemuImg: string; scratch: string; onStep?: (s: string) => void }): Promise<ImportResult & { entry: string }> {
  const r = await importVm(store, file, ref, {
    ...o, firmware: 'bios', bus: 'virtio', created: CONTAINERDISK_EPOCH,
    history: `isola kube containerdisk: the disk at ${DISK_PATH}`,
  });
  return { ...r, entry: CONTAINERDISK_ENTRY };
}
