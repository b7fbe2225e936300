import { invalid } from '../core/errors.js';
import { formatBytes, parseBytes } from '../core/units.js';
import type { Assumptions } from './assumptions.js';
import type { HostType } from './profile.js';
import { SIZE_PATTERN } from './profile-schema.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** Parses `--host 128G/32` (memory with a unit, slash, cores). */
export function parseHostFlag(text: string): HostType {
  const m = /^\s*([^/]+)\/\s*(\S+)\s*$/.exec(text);
  if (!m || !m[1] || !m[2]) throw invalid(`invalid --host "${text}"`, 'use MEMORY/CORES, for example --host 128G/32');
  const memory = m[1].trim();
  if (!new RegExp(SIZE_PATTERN).test(memory)) {
    throw invalid(`invalid --host "${text}": memory "${memory}" needs a unit and must be positive`, 'use for example --host 128G/32');
  }
  const cores = Number(m[2]);
  if (!Number.isInteger(cores) || cores < 1) {
    throw invalid(`invalid --host "${text}": cores "${m[2]}" must be a whole number of at least 1`, 'use for example --host 128G/32');
  }
  return { name: text.trim(), memoryBytes: parseBytes(memory, '--host memory'), cores };
}

/**
 * What a host keeps for itself when the user does not say (--reserved): Google Kubernetes
 * Engine's published node reservation, which is a documented formula for exactly this question.
 */
export const RESERVED_SOURCE =
  'GKE node allocatable: 25 % of the first 4 GiB, 20 % of the next 4, 10 % of the next 8, 6 % of the next 112, 2 % above 128, plus 100 MiB eviction; CPU 6 % of the first core, 1 % of the next, 0.5 % of the next 2, 0.25 % above 4 (cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes)';

export function reservedMemory(total: number): number {
  const tiers: [number, number][] = [[4 * GiB, 0.25], [4 * GiB, 0.2], [8 * GiB, 0.1], [112 * GiB, 0.06], [Infinity, 0.02]];
  return tiered(total, tiers) + 100 * MiB;
}

export function reservedCores(cores: number): number {
  return tiered(cores, [[1, 0.06], [1, 0.01], [2, 0.005], [Infinity, 0.0025]]);
}

function tiered(total: number, tiers: [number, number][]): number {
  let left = total;
  let sum = 0;
  for (const [size, share] of tiers) {
    const part = Math.min(left, size);
    sum += part * share;
    left -= part;
    if (left <= 0) break;
  }
  return sum;
}

/** What one host offers to instances, after its reserve and with overcommit. */
export interface Capacity {
  host: HostType;
  reservedBytes: number;
  reservedCores: number;
  reservedSource: string;
  memoryOvercommit: number;
  cpuOvercommit: number;
  /** Schedulable memory in bytes and CPU in millicores (integers, so packing is exact). */
  memoryBytes: number;
  millicores: number;
}

export function capacityOf(host: HostType, a: Assumptions, reservedOverride?: number): Capacity {
  const reservedBytes = reservedOverride ?? reservedMemory(host.memoryBytes);
  const resCores = reservedCores(host.cores);
  const memoryOvercommit = a['overcommit.memory'].value;
  const cpuOvercommit = a['overcommit.cpu'].value;
  const memoryBytes = Math.floor((host.memoryBytes - reservedBytes) * memoryOvercommit);
  const millicores = Math.floor((host.cores - resCores) * cpuOvercommit * 1000);
  if (memoryBytes <= 0) {
    throw invalid(
      `reserved memory ${formatBytes(reservedBytes)} leaves nothing of host ${host.name} (${formatBytes(host.memoryBytes)})`,
      'lower --reserved or use a bigger host',
    );
  }
  return {
    host,
    reservedBytes,
    reservedCores: resCores,
    reservedSource: reservedOverride === undefined ? RESERVED_SOURCE : '--reserved',
    memoryOvercommit,
    cpuOvercommit,
    memoryBytes,
    millicores,
  };
}
