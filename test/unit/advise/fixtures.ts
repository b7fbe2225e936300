import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompareResult } from '../../../src/core/compare-result.js';
import type { Workload } from '../../../src/advise/profile.js';

/** The repository root, from dist/test/unit/advise/ where the compiled tests run. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** A workload that no rule argues against: every answer given, all pointing at containers. */
export const plainContainer: Workload = {
  name: 'plain',
  index: 0,
  os: 'linux',
  trust: 'trusted',
  tenancy: 'single',
  compliance: [],
  legacy: false,
  fullOsAccess: false,
  architecture: 'microservice',
  scaling: 'fast',
  parity: true,
  memoryBytes: 512 * 2 ** 20,
  cpus: 0.5,
  replicas: 1,
};

export const withAnswers = (changes: Partial<Workload>): Workload => ({ ...plainContainer, ...changes });

/** A compare result as `isola compare --json` writes it; the numbers are test data, not measurements. */
export function compareFixture(overrides: Partial<CompareResult['context']> = {}): CompareResult {
  const s = (median: number) => ({ n: 3, median, p10: median, p90: median, ci95: [median, median] as [number, number], samples: [median, median, median] });
  return {
    format: 'isola-compare',
    version: 3,
    context: {
      host: { cpu: 'Test CPU', cores: 2, memoryBytes: 8 * 2 ** 30, kernel: '6.1.0' },
      accelerator: 'kvm',
      emulated: false,
      runtime: 'crun 1.14',
      image: 'busybox',
      startedAt: '2024-01-01T00:00:00Z',
      quick: true,
      ...overrides,
    },
    metrics: [
      { id: 'startup_ready_ms', unit: 'ms', kinds: { container: s(40), vm: s(900), hybrid: s(1200) } },
      { id: 'memory_overhead_bytes', unit: 'bytes', kinds: { container: s(3 * 2 ** 20), vm: s(150 * 2 ** 20), hybrid: s(200 * 2 ** 20) } },
      { id: 'cpu_overhead_ratio', unit: 'ratio', kinds: { container: s(1.0), vm: s(1.2), hybrid: s(1.25) } },
      { id: 'io_seq_ratio', unit: 'ratio', kinds: { container: s(0.99), vm: s(0.9) }, notMeasured: { hybrid: 'no block device in the sandbox' } },
    ],
  };
}
