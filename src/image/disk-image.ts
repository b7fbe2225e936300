import fs from 'node:fs';
import path from 'node:path';
import type { ImageRuntimeConfig } from '../core/types.js';
import type { ImageStore } from './store.js';
import { storeLayer } from './layer.js';
import { commitImage } from './compose.js';
import type { Descriptor } from './layout.js';

/**
 * A whole VM disk as an OCI image, in KubeVirt's containerDisk layout: one uncompressed layer
 * holding the disk at /disk/disk.qcow2, owned by uid and gid 107 (qemu), mode 0440. isola stores
 * imported and exported whole disks this way, boots them with `isola run --as vm IMAGE`, and
 * pushes them like any image; a KubeVirt VirtualMachine can name the same image.
 *
 * The image config's labels say what the disk needs; the VM driver reads them back.
 */
export const DISK_LABEL = 'io.isola.vm.disk';
export const CPUS_LABEL = 'io.isola.vm.cpus';
export const MEMORY_LABEL = 'io.isola.vm.memory-mib';
export const AGENT_LABEL = 'io.isola.vm.agent';
export const FIRMWARE_LABEL = 'io.isola.vm.firmware';
export const BUS_LABEL = 'io.isola.vm.disk-bus';
/** Where an image made by `run --disk FILE` came from (path, size, mtime): the same file is not imported twice. */
export const SOURCE_LABEL = 'io.isola.vm.source';

export const DISK_PATH = '/disk/disk.qcow2';

export type Firmware = 'bios' | 'uefi';
/** How the disk (and the NIC) reach the guest: virtio, or SATA and e1000e for an OS without virtio drivers. */
export type DiskBus = 'virtio' | 'sata';

export interface DiskImageFacts {
  cpus: number;
  memoryMiB: number;
  /** Whether isola's init runs the workload in it (exec, stats, status and logs over virtio ports). */
  agent: boolean;
  firmware: Firmware;
  bus: DiskBus;
}

/** The facts of a whole-disk image, or null for an ordinary image (its layers are a root file system). */
export function diskImageFacts(config: ImageRuntimeConfig): DiskImageFacts | null {
  const l = config.labels ?? {};
  if (l[DISK_LABEL] !== DISK_PATH) return null;
  const num = (v: string | undefined, d: number): number => (v && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : d);
  return {
    cpus: num(l[CPUS_LABEL], 1),
    memoryMiB: num(l[MEMORY_LABEL], 512),
    agent: l[AGENT_LABEL] === '1',
    firmware: l[FIRMWARE_LABEL] === 'uefi' ? 'uefi' : 'bios',
    bus: l[BUS_LABEL] === 'sata' ? 'sata' : 'virtio',
  };
}

/** `disk` (a standalone qcow2) into the store as `ref`; `scratch` is a folder for the layer's staging. */
export async function storeDiskImage(store: ImageStore, disk: string, ref: string, f: DiskImageFacts & { description: string; source?: string; created?: string }, scratch: string): Promise<Descriptor> {
  const stage = path.join(scratch, 'containerdisk');
  fs.mkdirSync(path.join(stage, 'disk'), { recursive: true });
  fs.linkSync(disk, path.join(stage, DISK_PATH));
  const tar = path.join(scratch, 'containerdisk.tar');
  const { create } = await import('tar');
  await create({
    cwd: stage, file: tar, portable: false, noPax: true,
    onWriteEntry: (e) => {
      if (!e.stat) return;
      // Every time fixed, atime and ctime too: node-tar writes them into the header (where the
      // ustar prefix would be) when not portable, and portable would drop the uid KubeVirt needs.
      const epoch = new Date(0);
      Object.assign(e.stat, { uid: 107, gid: 107, mode: e.type === 'Directory' ? 0o40555 : 0o100440, mtime: epoch, atime: epoch, ctime: epoch });
    },
  }, ['disk']);
  try {
    return await store.withLease(async () => {
      // A disk does not shrink under gzip enough to pay for the time: stored as it is.
      const layer = await storeLayer(store, tar, { compress: false });
      return commitImage(store, ref, {
        layers: [layer],
        history: f.description,
        ...(f.created ? { created: f.created } : {}),
        config: {
          Labels: {
            [DISK_LABEL]: DISK_PATH,
            [CPUS_LABEL]: String(f.cpus),
            [MEMORY_LABEL]: String(f.memoryMiB),
            [AGENT_LABEL]: f.agent ? '1' : '0',
            [FIRMWARE_LABEL]: f.firmware,
            [BUS_LABEL]: f.bus,
            ...(f.source ? { [SOURCE_LABEL]: f.source } : {}),
          },
        },
      });
    });
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
    fs.rmSync(tar, { force: true });
  }
}
