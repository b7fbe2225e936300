import { formatBytes } from '../core/units.js';
import type { Assumptions } from './assumptions.js';
import { demandFormula, demandOf, type Demand, type DemandFormula, type InstanceKind } from './demand.js';
import type { Capacity } from './host.js';
import { ruleById } from './rules.js';

/** How many instances of one size and kind one host holds, and which resource runs out first. */
export interface DensityRow {
  kind: InstanceKind;
  memoryBytes: number;
  /** Absent when the size gives no CPU (the comparison's density example does not). */
  cpus?: number;
  demand: Demand;
  formula: DemandFormula;
  byMemory: number;
  byCpu?: number;
  count: number;
  binds: 'memory' | 'cpu';
  /** The arithmetic, written out: "(128GiB − 9.42GiB reserved) / (4GiB + 124.9MiB VMM) = 28.77 → 28". */
  arithmetic: string[];
  /** For a size without CPU: CPU would bind first if each instance needed more than this many cores. */
  cpuBindsAboveCores?: number;
  /** The comparison's claimed count, for its density example. */
  claim?: DensityClaim;
}

export interface DensityClaim {
  rule: string;
  quote: string;
  low: number;
  high: number;
  /** Whether the computed count falls inside the claimed range on this host. */
  verdict: 'within' | 'above' | 'below';
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

export function densityOf(kind: InstanceKind, memoryBytes: number, cpus: number | undefined, cap: Capacity, a: Assumptions, sizedVm = false): DensityRow {
  const demand = demandOf(kind, memoryBytes, cpus ?? 0, a, sizedVm);
  const formula = demandFormula(kind, memoryBytes, cpus ?? 0, a, sizedVm);
  const mem = cap.memoryBytes / demand.memoryBytes;
  const byMemory = Math.floor(mem);
  const memOc = cap.memoryOvercommit === 1 ? '' : ` × ${cap.memoryOvercommit}`;
  const arithmetic = [
    `memory: (${formatBytes(cap.host.memoryBytes)} − ${formatBytes(cap.reservedBytes)} reserved)${memOc} / (${formula.memory}) = ${mem.toFixed(2)} → ${byMemory}`,
  ];
  let byCpu: number | undefined;
  if (cpus !== undefined && demand.millicores > 0) {
    const cpu = cap.millicores / demand.millicores;
    byCpu = Math.floor(cpu);
    const cpuOc = cap.cpuOvercommit === 1 ? '' : ` × ${cap.cpuOvercommit}`;
    arithmetic.push(`cpu: (${cap.host.cores} − ${fmt(cap.reservedCores)} reserved cores)${cpuOc} / (${formula.cpu}) = ${cpu.toFixed(2)} → ${byCpu}`);
  }
  const count = Math.min(byMemory, byCpu ?? Infinity);
  const row: DensityRow = {
    kind, memoryBytes, cpus, demand, formula, byMemory, byCpu, count, binds: byCpu !== undefined && byCpu < byMemory ? 'cpu' : 'memory', arithmetic,
  };
  if (cpus === undefined && count > 0) row.cpuBindsAboveCores = cap.millicores / 1000 / count;
  return row;
}

/**
 * The common comparison's Resource Density example, computed on the given host: "VMs (with 4GB RAM each)
 * ≈ 25-30 VMs max" and "Containers (with 512MB each) ≈ 100-200 containers", for a server with
 * 128GB RAM and 32 CPU cores. The example gives no CPU size, so memory decides and the row says
 * above how many cores per instance CPU would bind instead.
 */
export function comparisonExample(cap: Capacity, a: Assumptions): DensityRow[] {
  const claim = (rule: string, low: number, high: number, count: number): DensityClaim => ({
    rule, quote: ruleById(rule).quote, low, high, verdict: count < low ? 'below' : count > high ? 'above' : 'within',
  });
  const vm = densityOf('vm', 4 * 2 ** 30, undefined, cap, a, true);
  vm.claim = claim('DEN-VM', 25, 30, vm.count);
  const container = densityOf('container', 512 * 2 ** 20, undefined, cap, a);
  container.claim = claim('DEN-C', 100, 200, container.count);
  return [vm, container];
}
