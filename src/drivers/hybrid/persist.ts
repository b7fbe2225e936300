import type { DriverData } from '../driver.js';

/** What the hybrid driver remembers: the VM it booted (the VM driver's own data) and the container in it. */
export interface HybridData {
  hybrid: 1;
  /** The VM driver's data for the guest that runs the container. */
  vm: DriverData;
  /** The image unpacked on the host (shared cache), to resolve -u names against its /etc/passwd. */
  rootfs: string;
  /** The root disk made for this image: the guest system plus the image as the bundle's rootfs. */
  disk: string;
  /** The VM's RAM: the container's memory limit plus what the guest kernel and runc need. */
  vmMemoryBytes: number;
  /** Copied from the VM's data, where ps, inspect and console look for them in every kind. */
  accelerator?: unknown;
  consoleLog?: unknown;
  pid?: unknown;
}

/** Keeps the VM's data and the copies of its well-known fields in step. */
export function withVm(h: HybridData, vm: DriverData): HybridData {
  return { ...h, vm, accelerator: vm.accelerator, consoleLog: vm.consoleLog, pid: vm.pid };
}

export const CONTAINER_ID = 'workload';
/** Paths inside the guest. */
export const GUEST = {
  runc: '/.isola/runc',
  start: '/.isola/start',
  runcRoot: '/run/runc',
  bundle: '/run/isola',
  rootfs: '/bundle/rootfs',
  etc: '/run/isola/etc',
} as const;

export const toData = (d: HybridData): DriverData => d as unknown as DriverData;

export function isHybridData(d: DriverData): boolean {
  return (d as { hybrid?: unknown }).hybrid === 1;
}

export function fromData(d: DriverData): HybridData {
  if (!isHybridData(d)) throw new Error('hybrid driver data is missing or from another version');
  return d as unknown as HybridData;
}
