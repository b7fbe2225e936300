import type { StoredData } from '../../core/types.js';
import type { Accel } from './accel.js';
import type { LaunchFiles, Machine } from './launch.js';
import type { ShareData } from './virtiofs.js';

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
  /** What `inspect` shows of the kernel: its release and which one (isola's, Debian's cloud kernel, custom). */
  kernelVersion: string;
  /** Guest kernel: which one this VM boots (ISOLA_VM_KERNEL, or custom for --kernel); absent in older records (the cloud kernel). */
  guestKernel?: 'isola' | 'cloud' | 'custom';
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
  /** eth0's tap (null without a network). */
  tap: string | null;
  /** Every tap, eth0's first (absent in records made before VMs could have more than one NIC). */
  taps?: string[];
  /** QEMU, as started: its pid, start time and boot, so a reused pid is never taken for it. */
  pid: number | null;
  pidStartTime: number | null;
  bootId: string | null;
  startedAt: string | null;
  /** The jail's and QEMU's argv, as run. */
  qemuArgv: string[];
  /** Present when the image is a whole disk its firmware boots (absent in records made before). */
  wholeDisk?: WholeDiskData;
  /** Shared folders (virtiofs), each with its virtiofsd once started; absent in older records. */
  shares?: ShareData[];
  /** TCG's translation cache in MiB (LaunchPlan.tbSizeMiB): plain VMs; absent: QEMU's default (hybrids, machines, older records). */
  tbSizeMiB?: number;
  /** microvm's virtio devices on its PCIe bus (LaunchPlan.pcie); absent in older records: virtio-mmio. */
  pcie?: boolean;
  /** The exit watcher of this run (isola-exit-watch), when it has one; absent in older records. */
  watcher?: { pid: number; startTime: number; bootId: string } | null;
};

/** A whole-disk VM: how it boots, and its files on the host. */
export interface WholeDiskData {
  firmware: 'bios' | 'uefi';
  bus: 'virtio' | 'sata';
  /** isola's init is inside: status, logs, exec and stats as in any VM. */
  agent: boolean;
  /** The instance's config for the init (agent only). */
  config: string | null;
  /** UEFI: this VM's copy of OVMF's variable store. */
  vars: string | null;
  /** The firmware's debug log (SeaBIOS, OVMF). */
  firmwareLog: string;
}

function isVmData(d: StoredData): d is VmData {
  const files = d.files;
  return d.version === 2 && typeof d.vmmUid === 'number' && typeof files === 'object' && files !== null && 'status' in files && typeof files.status === 'string'
    && typeof d.overlay === 'string' && typeof d.baseDisk === 'string' && typeof d.initrd === 'string'
    && (d.pid === null || typeof d.pid === 'number') && (d.startedAt === null || typeof d.startedAt === 'string')
    && (d.shares === undefined || (Array.isArray(d.shares) && d.shares.every(isShare)));
}

function isShare(s: unknown): boolean {
  if (typeof s !== 'object' || s === null) return false;
  const r = s as Record<string, unknown>;
  return typeof r.tag === 'string' && typeof r.source === 'string' && typeof r.socket === 'string' && typeof r.stage === 'string'
    && typeof r.guestTarget === 'string' && typeof r.readOnly === 'boolean' && (r.pid === null || typeof r.pid === 'number');
}

/** The stored data, checked; null when there is none (create never finished) or it is another version's. */
export function decodeVmData(d: StoredData): VmData | null {
  return isVmData(d) ? d : null;
}
