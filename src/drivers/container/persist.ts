import path from 'node:path';
import type { DriverData, InstanceSpec } from '../driver.js';

/** What the container driver remembers about an instance, stored as JSON in the state database. */
export interface ContainerData {
  runtime: string; // absolute path of the OCI runtime binary
  runtimeRoot: string; // --root for the runtime: its state folder, per data root
  rootfs: string; // the overlay mount point
  netns: string | null;
  cgroupsPath: string;
  conmonPid?: number;
  pid?: number;
}

export const asData = (d: ContainerData): DriverData => d as unknown as DriverData;
export const fromData = (d: DriverData): ContainerData => d as unknown as ContainerData;

/** Files of one container, in its persistent folder and its runtime folder. */
export function filesOf(spec: InstanceSpec) {
  return {
    bundle: path.join(spec.dir, 'bundle'),
    config: path.join(spec.dir, 'bundle', 'config.json'),
    upper: path.join(spec.dir, 'upper'),
    work: path.join(spec.dir, 'work'),
    rootfs: path.join(spec.dir, 'rootfs'),
    etc: path.join(spec.dir, 'etc'),
    log: path.join(spec.dir, 'container.log'),
    exitDir: path.join(spec.runDir, 'exits'),
    exitFile: path.join(spec.runDir, 'exits', spec.id),
    pidFile: path.join(spec.runDir, 'pid'),
    conmonPidFile: path.join(spec.runDir, 'conmon.pid'),
    sockets: path.join(spec.runDir, 'sock'),
  };
}
