import { invalid } from '../core/errors.js';

/**
 * Every number `isola plan` assumes, each with where it comes from. A plan is only as good as
 * these, so they are printed with every plan and each one can be overridden: in the file
 * (`assumptions:`), by `--assume key=value`, or (overheads only) by `--measured`.
 *
 * provenance: published = a vendor document or paper; comparison = the common VM-vs-container
 * comparison whose claims isola checks (docs/CLAIMS.md); placeholder = no published figure
 * exists, so the number is isola's guess and the plan says so; policy = a choice, not a fact.
 */
export type Provenance = 'published' | 'comparison' | 'placeholder' | 'policy';

export interface AssumptionDef {
  key: string;
  label: string;
  unit: string;
  value: number;
  /** Smallest accepted value (validation of overrides). */
  min: number;
  provenance: Provenance;
  source: string;
}

const MB_IN_MIB = 1e6 / 2 ** 20;

export const ASSUMPTIONS = [
  {
    key: 'container.memoryMiB', label: 'memory overhead per container', unit: 'MiB', value: 50 * MB_IN_MIB, min: 0,
    provenance: 'comparison', source: 'the common VM-vs-container comparison, performance table: "Memory Overhead ... 5-50MB per container" (upper end, 50 MB)',
  },
  {
    key: 'container.cpuFactor', label: 'CPU needed per unit of work, container', unit: '× native', value: 1.01, min: 1,
    provenance: 'comparison', source: 'the common VM-vs-container comparison, performance table: "CPU Overhead ... < 1%" (upper end)',
  },
  {
    key: 'vm.guestOsMiB', label: 'guest OS memory added when a workload becomes a VM', unit: 'MiB', value: 512 * MB_IN_MIB, min: 0,
    provenance: 'comparison', source: 'the common VM-vs-container comparison, performance table: "Memory Overhead 512MB - 2GB per VM" (lower end, 512 MB)',
  },
  {
    key: 'vm.vmmMiB', label: 'VMM (QEMU) memory per VM', unit: 'MiB', value: 131 * MB_IN_MIB, min: 0,
    provenance: 'published', source: 'Agache et al., Firecracker, NSDI 2020: VMM memory overhead about 131 MB for QEMU (3 MB Firecracker, 13 MB Cloud Hypervisor)',
  },
  {
    key: 'vm.vmmMiBPerVcpu', label: 'VMM memory per vCPU', unit: 'MiB', value: 0, min: 0,
    provenance: 'policy', source: 'not in the QEMU figure; OpenShift Virtualization uses 8 (see docs/ADVISE.md)',
  },
  {
    key: 'vm.memoryFactor', label: 'VMM memory proportional to guest RAM', unit: '× guest RAM', value: 1, min: 1,
    provenance: 'policy', source: 'not in the QEMU figure; OpenShift Virtualization uses 1.002 (see docs/ADVISE.md)',
  },
  {
    key: 'vm.cpuFactor', label: 'CPU needed per unit of work, VM', unit: '× native', value: 1.1, min: 1,
    provenance: 'comparison', source: 'the common VM-vs-container comparison, performance table: "CPU Overhead 5-15%" (middle, 10 %)',
  },
  {
    key: 'hybrid.memoryMiB', label: 'memory overhead per sandboxed pod (container in a VM)', unit: 'MiB', value: 160, min: 0,
    provenance: 'published', source: 'Kata Containers RuntimeClass: overhead.podFixed memory 160Mi',
  },
  {
    key: 'hybrid.cpu', label: 'CPU overhead per sandboxed pod', unit: 'cores', value: 0.25, min: 0,
    provenance: 'published', source: 'Kata Containers RuntimeClass: overhead.podFixed cpu 250m',
  },
  {
    key: 'hybrid.cpuFactor', label: 'CPU needed per unit of work, container in a VM', unit: '× native', value: 1.1, min: 1,
    provenance: 'comparison', source: 'the common VM-vs-container comparison, performance table: "CPU Overhead 5-15%" for VMs (middle, 10 %)',
  },
  {
    key: 'overcommit.cpu', label: 'CPU overcommit ratio', unit: '× cores', value: 1, min: 0.01,
    provenance: 'policy', source: 'isola default: no overcommit (--overcommit-cpu)',
  },
  {
    key: 'overcommit.memory', label: 'memory overcommit ratio', unit: '× memory', value: 1, min: 0.01,
    provenance: 'policy', source: 'isola default: no overcommit (--overcommit-mem)',
  },
  {
    key: 'host.price', label: 'purchase price of one host', unit: 'currency', value: 10000, min: 0,
    provenance: 'placeholder', source: 'no published figure: isola placeholder; set hosts[].cost or --assume host.price=N',
  },
  {
    key: 'host.years', label: 'years over which a host is amortised', unit: 'years', value: 5, min: 0.1,
    provenance: 'policy', source: 'straight-line depreciation over a 3-5 year server life; isola takes 5',
  },
  {
    key: 'licence.windowsPerVm', label: 'Windows Server licence per Windows VM', unit: 'currency', value: 1069 / 2, min: 0,
    provenance: 'published', source: 'Microsoft Windows Server 2022 pricing: Standard, 16-core licence USD 1,069, covers 2 VMs (amortised like the host)',
  },
  {
    key: 'mgmt.hoursPerVm', label: 'guest OS administration per VM', unit: 'hours/year', value: 6, min: 0,
    provenance: 'placeholder', source: 'the common VM-vs-container comparison lists "More management overhead" as a cost of VMs but gives no figure; isola placeholder',
  },
  {
    key: 'mgmt.hoursPerHost', label: 'administration per physical host', unit: 'hours/year', value: 8, min: 0,
    provenance: 'placeholder', source: 'no published figure: isola placeholder',
  },
  {
    key: 'mgmt.orchestrationHours', label: 'running an orchestrator, when any containers are used', unit: 'hours/year', value: 160, min: 0,
    provenance: 'placeholder', source: 'the common VM-vs-container comparison lists "Requires orchestration expertise" as a cost of containers but gives no figure; isola placeholder (one person-month)',
  },
  {
    key: 'mgmt.hourlyRate', label: 'cost of one hour of administration', unit: 'currency/hour', value: 100, min: 0,
    provenance: 'placeholder', source: 'no published figure: isola placeholder',
  },
] as const satisfies readonly AssumptionDef[];

export type AssumptionKey = (typeof ASSUMPTIONS)[number]['key'];

export type Origin = 'default' | 'measured' | 'file' | 'flag';

export interface Assumption extends AssumptionDef {
  key: AssumptionKey;
  origin: Origin;
}

export type Assumptions = Record<AssumptionKey, Assumption>;

const BY_KEY = new Map<string, AssumptionDef>(ASSUMPTIONS.map((a) => [a.key, a]));

export function defaultAssumptions(): Assumptions {
  return Object.fromEntries(ASSUMPTIONS.map((a) => [a.key, { ...a, origin: 'default' }])) as unknown as Assumptions;
}

export function isAssumptionKey(key: string): key is AssumptionKey {
  return BY_KEY.has(key);
}

/** Applies overrides in order; a later origin wins (defaults < measured < file < flags). */
export function override(
  base: Assumptions,
  values: Record<string, number>,
  origin: Origin,
  source: string,
): Assumptions {
  const out = { ...base };
  for (const [key, value] of Object.entries(values)) {
    const def = BY_KEY.get(key);
    if (!def || !isAssumptionKey(key)) {
      throw invalid(`unknown assumption "${key}"`, `use one of: ${[...BY_KEY.keys()].join(', ')}`);
    }
    if (!Number.isFinite(value) || value < def.min) {
      throw invalid(`assumption ${key}=${value} is out of range`, `use a number of at least ${def.min} (${def.unit})`);
    }
    out[key] = { ...out[key], value, origin, source };
  }
  return out;
}

/** Parses one `--assume key=value` flag. */
export function parseAssumeFlag(text: string): [string, number] {
  const m = /^([A-Za-z.]+)=(.+)$/.exec(text.trim());
  const value = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isFinite(value)) {
    throw invalid(`invalid --assume "${text}"`, 'use key=number, for example --assume host.price=12000');
  }
  return [m[1], value];
}
