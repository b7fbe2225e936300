import path from 'node:path';
import type { InstanceSpec } from '../../core/types.js';
import type { StoredData } from '../../core/types.js';

/** What the container driver remembers about an instance, stored as JSON in the state database. */
export type ContainerData = {
  runtime: string; // absolute path of the OCI runtime binary
  runtimeRoot: string; // --root for the runtime: its state folder, per data root
  rootfs: string; // the overlay mount point
  netns: string | null;
  cgroupsPath: string;
  conmonPid?: number;
  /** With conmonPid: the monitor's start time and boot, so a reused pid is never taken for it. */
  conmonStartTime?: number;
  bootId?: string;
  pid?: number;
};

const optionalNumber = (v: unknown): boolean => v === undefined || typeof v === 'number';

function isContainerData(d: StoredData): d is ContainerData {
  return typeof d.runtime === 'string' && typeof d.runtimeRoot === 'string' && typeof d.rootfs === 'string'
    && (d.netns === null || typeof d.netns === 'string') && typeof d.cgroupsPath === 'string'
    && optionalNumber(d.conmonPid) && optionalNumber(d.pid) && optionalNumber(d.conmonStartTime) && (d.bootId === undefined || typeof d.bootId === 'string');
}

/** The stored data, checked; null when there is none (create never finished) or it is not ours. */
export function decodeContainerData(d: StoredData): ContainerData | null {
  return isContainerData(d) ? d : null;
}

/** Where the runtime keeps its state for containers of one data root. */
export function runtimeRootOf(runDir: string, runtime: string): string {
  return path.join(runDir, 'runtime', runtime);
}

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
