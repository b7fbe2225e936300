import type { StoredData } from '../../core/types.js';
import type { Accel } from './accel.js';
import type { LaunchFiles, Machine } from './launch.js';

/**
 * What the VM driver remembers about an instance (stored by the engine as JSON). Enough for
 * another isola process to find the VM again, read its exit status and clean up after it.
 */
export type VmData = {
  version: 2;
  /** kvm or tcg: `isola ps` and `inspect` show it; every VM figure carries it. */
  accelerator: Accel;
  /** Why KVM was not used, when it was not. */
  acceleratorReason: string;
  cpu: string;
  machine: Machine;
  memoryMiB: number;
  cpus: number;
  kernel: string;
  kernelVersion: string;
  /** The shared initramfs plus this instance's config, concatenated. */
  initrd: string;
  baseDisk: string;
  overlay: string;
  files: LaunchFiles;
  /** The serial console (kernel and init messages), read by `isola console`. */
  consoleLog: string;
  /** Allocated bytes of the image's shared ext4 base disk (never written after it is built). */
  imageDiskBytes: number;
  /** The uid (and gid) this VM's QEMU runs as, in its jail. */
  vmmUid: number;
  tap: string | null;
  /** QEMU, as started: its pid, start time and boot, so a reused pid is never taken for it. */
  pid: number | null;
  pidStartTime: number | null;
  bootId: string | null;
  startedAt: string | null;
  /** The jail's and QEMU's argv, as run. */
  qemuArgv: string[];
  /** The exit watcher of this run (isola-exit-watch), when it has one; absent in older records. */
  watcher?: { pid: number; startTime: number; bootId: string } | null;
};

function isVmData(d: StoredData): d is VmData {
  const files = d.files;
  return d.version === 2 && typeof d.vmmUid === 'number' && typeof files === 'object' && files !== null && 'status' in files && typeof files.status === 'string'
    && typeof d.overlay === 'string' && typeof d.baseDisk === 'string' && typeof d.initrd === 'string'
    && (d.pid === null || typeof d.pid === 'number') && (d.startedAt === null || typeof d.startedAt === 'string');
}

/** The stored data, checked; null when there is none (create never finished) or it is another version's. */
export function decodeVmData(d: StoredData): VmData | null {
  return isVmData(d) ? d : null;
}
