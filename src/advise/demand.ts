import { formatBytes } from '../core/units.js';
import type { Assumptions } from './assumptions.js';

export type InstanceKind = 'container' | 'vm' | 'hybrid';

/** What one instance takes from a host. */
export interface Demand {
  memoryBytes: number;
  millicores: number;
}

/** The arithmetic behind a Demand, for people: "512MiB + 47.68MiB container overhead". */
export interface DemandFormula {
  memory: string;
  cpu: string;
}

const MiB = 2 ** 20;

/**
 * Host resources for one instance of a workload that itself needs `memoryBytes` and `cpus`.
 * `sizedVm`: the memory given is already the VM's RAM (as in the comparison's "VMs with 4GB RAM
 * each"), so no guest OS is added on top.
 */
export function demandOf(kind: InstanceKind, memoryBytes: number, cpus: number, a: Assumptions, sizedVm = false): Demand {
  const v = (k: keyof Assumptions) => a[k].value;
  switch (kind) {
    case 'container':
      return {
        memoryBytes: Math.ceil(memoryBytes + v('container.memoryMiB') * MiB),
        millicores: Math.ceil(cpus * v('container.cpuFactor') * 1000),
      };
    case 'vm': {
      const guest = sizedVm ? 0 : v('vm.guestOsMiB') * MiB;
      const vmm = v('vm.vmmMiB') * MiB + v('vm.vmmMiBPerVcpu') * MiB * Math.ceil(cpus);
      return {
        memoryBytes: Math.ceil((memoryBytes + guest) * v('vm.memoryFactor') + vmm),
        millicores: Math.ceil(cpus * v('vm.cpuFactor') * 1000),
      };
    }
    case 'hybrid':
      return {
        memoryBytes: Math.ceil(memoryBytes + v('hybrid.memoryMiB') * MiB),
        millicores: Math.ceil((cpus * v('hybrid.cpuFactor') + v('hybrid.cpu')) * 1000),
      };
  }
}

/** The same computation as demandOf, written out (kept next to it so the two cannot drift apart unnoticed). */
export function demandFormula(kind: InstanceKind, memoryBytes: number, cpus: number, a: Assumptions, sizedVm = false): DemandFormula {
  const v = (k: keyof Assumptions) => a[k].value;
  const mem = formatBytes(memoryBytes);
  switch (kind) {
    case 'container':
      return {
        memory: `${mem} + ${formatBytes(v('container.memoryMiB') * MiB)} container overhead`,
        cpu: `${cpus} × ${v('container.cpuFactor')}`,
      };
    case 'vm': {
      const guest = sizedVm ? '' : ` + ${formatBytes(v('vm.guestOsMiB') * MiB)} guest OS`;
      const factor = v('vm.memoryFactor');
      const ram = factor === 1 ? `${mem}${guest}` : `${factor} × (${mem}${guest})`;
      const vmm = v('vm.vmmMiB') * MiB + v('vm.vmmMiBPerVcpu') * MiB * Math.ceil(cpus);
      return { memory: `${ram} + ${formatBytes(vmm)} VMM`, cpu: `${cpus} × ${v('vm.cpuFactor')}` };
    }
    case 'hybrid':
      return {
        memory: `${mem} + ${formatBytes(v('hybrid.memoryMiB') * MiB)} sandbox overhead`,
        cpu: `${cpus} × ${v('hybrid.cpuFactor')} + ${v('hybrid.cpu')}`,
      };
  }
}
