import {
  ARCHITECTURE_VALUES, COMPLIANCE_VALUES, OS_VALUES, SCALING_VALUES, TENANCY_VALUES, TRUST_VALUES,
} from './profile.js';
import { seededRandom } from '../util/random.js';

/**
 * Random but reproducible inventories in the file format, for the plan benchmark and for the
 * tests that hold bin packing to its lower bound. Sizes follow common request sizes; OS is
 * mostly Linux, as in real fleets.
 */
export interface GeneratedInventory {
  workloads: Record<string, unknown>[];
  hosts: { name: string; memory: string; cores: number }[];
}

export { seededRandom };

const MEMORY = ['128Mi', '256Mi', '512Mi', '1Gi', '2Gi', '4Gi', '8Gi'] as const;
const CPUS = [0.1, 0.25, 0.5, 1, 2, 4] as const;

export function generateInventory(count: number, seed = 1, host = { memory: '128G', cores: 32 }): GeneratedInventory {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const workloads = Array.from({ length: count }, (_, i) => ({
    name: `w${i}`,
    os: rnd() < 0.9 ? 'linux' : pick(OS_VALUES),
    trust: pick(TRUST_VALUES),
    tenancy: pick(TENANCY_VALUES),
    compliance: rnd() < 0.7 ? [] : [pick(COMPLIANCE_VALUES)],
    legacy: rnd() < 0.15,
    fullOsAccess: rnd() < 0.05,
    architecture: pick(ARCHITECTURE_VALUES),
    scaling: pick(SCALING_VALUES),
    parity: rnd() < 0.5,
    memory: pick(MEMORY),
    cpus: pick(CPUS),
    replicas: 1 + Math.floor(rnd() * 5),
  }));
  return { workloads, hosts: [{ name: `${host.memory}/${host.cores}`, ...host }] };
}
