import type { MeasuredKind } from '../core/compare-result.js';
import { defaultAssumptions, override, type AssumptionKey, type Assumptions } from './assumptions.js';
import { median, type Measured } from './measured.js';

const MiB = 2 ** 20;

/** Which assumption each measured figure replaces (see docs/COMPARE-FORMAT.md for the metrics). */
const FROM_MEASURED: { metric: 'memory_overhead_bytes' | 'cpu_overhead_ratio'; kind: MeasuredKind; key: AssumptionKey }[] = [
  { metric: 'memory_overhead_bytes', kind: 'container', key: 'container.memoryMiB' },
  { metric: 'memory_overhead_bytes', kind: 'vm', key: 'vm.vmmMiB' },
  { metric: 'memory_overhead_bytes', kind: 'hybrid', key: 'hybrid.memoryMiB' },
  { metric: 'cpu_overhead_ratio', kind: 'container', key: 'container.cpuFactor' },
  { metric: 'cpu_overhead_ratio', kind: 'vm', key: 'vm.cpuFactor' },
  { metric: 'cpu_overhead_ratio', kind: 'hybrid', key: 'hybrid.cpuFactor' },
];

/** Defaults, then measured figures, then the file's `assumptions:`, then flags: the later wins. */
export function resolveAssumptions(fileValues: Record<string, number>, flagValues: Record<string, number>, measured?: Measured): Assumptions {
  let a = defaultAssumptions();
  if (measured) {
    for (const { metric, kind, key } of FROM_MEASURED) {
      const m = median(measured, metric, kind);
      if (m === undefined) continue;
      // A ratio a little under 1 is measurement noise: no kind is faster than native.
      const value = metric === 'memory_overhead_bytes' ? Math.max(0, m) / MiB : Math.max(1, m);
      a = override(a, { [key]: value }, 'measured', `measured on this host: ${metric} (${kind}) in ${measured.file}, ${measured.accelerator}`);
    }
  }
  a = override(a, fileValues, 'file', 'the workload file (assumptions:)');
  return override(a, flagValues, 'flag', 'command line');
}
