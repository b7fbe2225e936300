import type { DriverData } from '../driver.js';
import type { Accel } from './accel.js';
import type { LaunchFiles, Machine } from './launch.js';

/**
 * What the VM driver remembers about an instance (stored by the engine as JSON). Enough for
 * another isola process to find the VM again, read its exit status and clean up after it.
 */
export interface VmData {
  version: 1;
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
  /** A short folder for the sockets when runDir's path is too long for a unix socket; removed by cleanup. */
  socketDir: string | null;
  tap: string | null;
  pid: number | null;
  startedAt: string | null;
  qemuArgv: string[];
}

export function toData(v: VmData): DriverData {
  return { ...v } as unknown as DriverData;
}

export function isVmData(d: DriverData): boolean {
  return (d as { version?: unknown }).version === 1 && typeof d.files === 'object';
}

export function fromData(d: DriverData): VmData {
  const v = d as unknown as VmData;
  if (v.version !== 1 || typeof v.files !== 'object' || typeof v.overlay !== 'string') {
    throw new Error('VM driver data is missing or from another version');
  }
  return v;
}
