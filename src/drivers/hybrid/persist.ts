import type { VmData } from '../vm/persist.js';

/** What the hybrid driver remembers: the VM it booted (the VM driver's own data) and the container in it. */
export type HybridData = {
  hybrid: 1;
  /** The VM driver's data for the guest that runs the container. */
  vm: VmData;
  /** The image unpacked on the host (shared cache), to resolve -u names against its /etc/passwd. */
  rootfs: string;
  /** The root disk made for this image: the guest system plus the image as the bundle's rootfs. */
  disk: string;
  /** The VM's RAM: the container's memory limit plus what the guest kernel and runc need. */
  vmMemoryBytes: number;
  /** Copied from the VM's data, where ps, inspect and console look for them in every kind. */
  accelerator?: string;
  consoleLog?: string;
  pid?: number | null;
};

/** Keeps the VM's data and the copies of its well-known fields in step. */
export function withVm(h: HybridData, vm: VmData): HybridData {
  return { ...h, vm, accelerator: vm.accelerator, consoleLog: vm.consoleLog, pid: vm.pid };
}

export const CONTAINER_ID = 'workload';
/** Paths inside the guest. */
export const GUEST = {
  runc: '/.isola/runc',
  start: '/.isola/start',
  /** tini (static), for --init: mounted into the container as /sbin/docker-init. */
  tini: '/.isola/tini',
  runcRoot: '/run/runc',
  bundle: '/run/isola',
  rootfs: '/bundle/rootfs',
  etc: '/run/isola/etc',
} as const;

/** The stored data, checked (the VM's part by the VM driver); null when create never finished. */
export function decodeHybridData(d: Record<string, unknown>, decodeVm: (vm: Record<string, unknown>) => VmData | null): HybridData | null {
  if (d.hybrid !== 1 || typeof d.rootfs !== 'string' || typeof d.disk !== 'string' || typeof d.vmMemoryBytes !== 'number') return null;
  if (typeof d.vm !== 'object' || d.vm === null) return null;
  const vm = decodeVm({ ...d.vm });
  if (!vm) return null;
  return withVm({ hybrid: 1, vm, rootfs: d.rootfs, disk: d.disk, vmMemoryBytes: d.vmMemoryBytes }, vm);
}
