import type { IRuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass';
import type { Manifest } from './model.js';
import { memoryQuantity } from './quantity.js';

/** The RuntimeClass hybrid pods name, and the handler Kata's containerd configuration registers. */
export const KATA_RUNTIME_CLASS = 'kata';
export const KATA_HANDLER = 'kata';
/** Kata's published pod overhead (kata-deploy's RuntimeClasses): used where isola measured none. */
export const KATA_DEFAULT_OVERHEAD = { memory: '160Mi', cpu: '250m' } as const;

/** Host memory one hybrid instance costs beyond its workload, as `isola compare` measured it. */
export interface MeasuredOverhead {
  memoryBytes: number;
  /** The compare result file it came from. */
  file: string;
  /** "KVM", "emulation (TCG)": a figure measured under emulation is not what KVM would give. */
  accelerator: string;
}

/**
 * The Kata RuntimeClass hybrid workloads need. Its pod overhead is what the scheduler adds to
 * every such pod for the VM around it: the memory isola measured for hybrid when a compare
 * result is given, else Kata's published default; the CPU is always Kata's default, since
 * compare measures a CPU-time ratio, not a fixed share. The comment says which is which.
 */
export function kataRuntimeClass(measured?: MeasuredOverhead): Manifest {
  const memory = measured ? memoryQuantity(measured.memoryBytes) : KATA_DEFAULT_OVERHEAD.memory;
  const rc: IRuntimeClass = {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClass',
    metadata: { name: KATA_RUNTIME_CLASS, labels: { 'app.kubernetes.io/created-by': 'isola' } },
    handler: KATA_HANDLER,
    overhead: { podFixed: { memory, cpu: KATA_DEFAULT_OVERHEAD.cpu } },
  };
  const comment = [
    'Kata Containers: hybrid pods run as containers inside a VM; the cluster needs Kata installed with this handler',
    measured
      ? `overhead.podFixed.memory: ${memory}, the hybrid memory overhead isola compare measured (${measured.file}, ${measured.accelerator})`
      : `overhead.podFixed.memory: ${memory}, Kata's published default (no isola compare result given: --measured FILE)`,
    `overhead.podFixed.cpu: ${KATA_DEFAULT_OVERHEAD.cpu}, Kata's published default (isola compare measures no fixed CPU share)`,
  ];
  return { object: rc as unknown as Manifest['object'], comment };
}
