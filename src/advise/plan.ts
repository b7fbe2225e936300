import { invalid } from '../core/errors.js';
import { formatBytes } from '../core/units.js';
import type { Assumption, Assumptions } from './assumptions.js';
import { lowerBound, packHosts, type Item } from './bin-pack.js';
import { costOf, type CostBreakdown } from './cost.js';
import { decide, type Fit, type Recommendation } from './decide.js';
import { demandOf, type Demand, type InstanceKind } from './demand.js';
import { comparisonExample, densityOf, type DensityRow } from './density.js';
import { capacityOf, type Capacity } from './host.js';
import type { Measured } from './measured.js';
import type { HostType, Inventory, Workload } from './profile.js';
import { resolveAssumptions } from './resolve-assumptions.js';

export type Strategy = 'all-vm' | 'all-container' | 'advised';
export const STRATEGIES: readonly Strategy[] = ['all-vm', 'all-container', 'advised'];
const KINDS: readonly InstanceKind[] = ['container', 'vm', 'hybrid'];

/** The typed request `isola plan` parses its arguments into. */
export interface PlanRequest {
  inventory: Inventory;
  /** --host: replaces the file's hosts: section. */
  host?: HostType;
  /** --reserved: host memory kept for the host itself, instead of the published default. */
  reservedBytes?: number;
  /** --overcommit-cpu, --overcommit-mem and --assume, as assumption keys. */
  flagAssumptions: Record<string, number>;
  measured?: Measured;
}

export interface Placement {
  strategy: Strategy;
  hostType: string;
  instances: Record<InstanceKind, number>;
  /** all-container: instances that stay VMs because containers cannot run them (fit NO_FIT). */
  keptAsVm: number;
  /** null when some instance does not fit this host type at all (see doesNotFit). */
  hosts: number | null;
  lowerBound: number | null;
  /** The packing heuristic used (see bin-pack.ts). */
  method?: string;
  doesNotFit: string[];
  utilization?: { memory: number; cpu: number };
  /** Hosts missing when the host type says how many exist (count). */
  shortfall?: number;
  cost?: CostBreakdown;
}

export interface PlanReport {
  hostTypes: (Capacity & { price: number; priceSource: string })[];
  assumptions: Assumption[];
  workloads: {
    total: number;
    placed: number;
    instances: number;
    /** Workloads without memory or cpus: they cannot be placed, and are named rather than guessed. */
    unsized: { name: string; missing: string[] }[];
    /** Workloads without replicas, counted as one instance each. */
    replicasNotGiven: string[];
    /** Workloads whose container fit is UNKNOWN: all-container places them as containers. */
    fitUnknown: string[];
  };
  density: { hostType: string; comparisonExample: DensityRow[]; sizes: DensityRow[] }[];
  placements: Placement[];
}

interface Sized {
  w: Workload;
  replicas: number;
  advised: Recommendation;
  fit: Fit;
  demand: Record<InstanceKind, Demand>;
}

const KIND_OF: Record<Recommendation, InstanceKind> = {
  container: 'container',
  'hardened-container': 'container',
  vm: 'vm',
  hybrid: 'hybrid',
};

const kindOf = (advised: Recommendation, fit: Fit, strategy: Strategy): InstanceKind =>
  strategy === 'all-vm' ? 'vm' : strategy === 'all-container' ? (fit === 'NO_FIT' ? 'vm' : 'container') : KIND_OF[advised];
const kindFor = (s: Sized, strategy: Strategy): InstanceKind => kindOf(s.advised, s.fit, strategy);

/** Each workload's kind under a strategy, as plan places it (isola plan --kube writes one manifest per workload). */
export function workloadKinds(inv: Inventory, strategy: Strategy): { workload: Workload; kind: InstanceKind; recommendation: Recommendation }[] {
  return inv.workloads.map((workload) => {
    const d = decide(workload);
    return { workload, kind: kindOf(d.recommendation, d.fit, strategy), recommendation: d.recommendation };
  });
}

export function plan(req: PlanRequest): PlanReport {
  const inv = req.inventory;
  const hosts = req.host ? [req.host] : inv.hosts;
  if (hosts.length === 0) throw invalid('no host type to plan for', 'give --host MEMORY/CORES (for example --host 128G/32) or a hosts: section');
  const a = resolveAssumptions(inv.assumptions, req.flagAssumptions, req.measured);
  const caps = hosts.map((h) => capacityOf(h, a, req.reservedBytes));

  const unsized: PlanReport['workloads']['unsized'] = [];
  const sized: Sized[] = [];
  for (const w of inv.workloads) {
    if (w.memoryBytes === undefined || w.cpus === undefined) {
      unsized.push({ name: w.name, missing: [w.memoryBytes === undefined ? 'memory' : '', w.cpus === undefined ? 'cpus' : ''].filter(Boolean) });
      continue;
    }
    const d = decide(w);
    const demand = Object.fromEntries(KINDS.map((k) => [k, demandOf(k, w.memoryBytes as number, w.cpus as number, a)])) as Record<InstanceKind, Demand>;
    sized.push({ w, replicas: w.replicas ?? 1, advised: d.recommendation, fit: d.fit, demand });
  }
  rejectTooLarge(sized, caps, inv);

  const placements: Placement[] = [];
  for (const cap of caps) {
    const price = cap.host.cost ?? a['host.price'].value;
    for (const strategy of STRATEGIES) placements.push(place(strategy, sized, cap, price, a));
  }

  return {
    hostTypes: caps.map((c) => ({
      ...c,
      price: c.host.cost ?? a['host.price'].value,
      priceSource: c.host.cost !== undefined ? `hosts: ${c.host.name} cost` : `assumption host.price (${a['host.price'].source})`,
    })),
    assumptions: Object.values(a),
    workloads: {
      total: inv.workloads.length,
      placed: sized.length,
      instances: sized.reduce((s, x) => s + x.replicas, 0),
      unsized,
      replicasNotGiven: sized.filter((s) => s.w.replicas === undefined).map((s) => s.w.name),
      fitUnknown: sized.filter((s) => s.fit === 'UNKNOWN').map((s) => s.w.name),
    },
    density: caps.map((cap) => ({ hostType: cap.host.name, comparisonExample: comparisonExample(cap, a), sizes: commonSizes(sized, cap, a) })),
    placements,
  };
}

function place(strategy: Strategy, sized: Sized[], cap: Capacity, price: number, a: Assumptions): Placement {
  const instances: Record<InstanceKind, number> = { container: 0, vm: 0, hybrid: 0 };
  const items: Item[] = [];
  const doesNotFit: string[] = [];
  let keptAsVm = 0;
  let licensedVms = 0;
  for (const s of sized) {
    const kind = kindFor(s, strategy);
    const d = s.demand[kind];
    if (d.memoryBytes > cap.memoryBytes || d.millicores > cap.millicores) {
      doesNotFit.push(`${s.w.name} (as ${kind})`);
      continue;
    }
    instances[kind] += s.replicas;
    if (strategy === 'all-container' && kind === 'vm') keptAsVm += s.replicas;
    if (kind === 'vm' && s.w.os === 'windows') licensedVms += s.replicas;
    for (let r = 0; r < s.replicas; r++) items.push({ memory: d.memoryBytes, cpu: d.millicores });
  }
  const base = { strategy, hostType: cap.host.name, instances, keptAsVm, doesNotFit };
  if (doesNotFit.length) return { ...base, hosts: null, lowerBound: null };
  const packing = packHosts(items, cap.memoryBytes, cap.millicores);
  const used = { memory: 0, cpu: 0 };
  for (const it of items) {
    used.memory += it.memory;
    used.cpu += it.cpu;
  }
  const hosts = packing.hosts;
  return {
    ...base,
    hosts,
    method: packing.method,
    lowerBound: lowerBound(items, cap.memoryBytes, cap.millicores),
    utilization: hosts ? { memory: used.memory / (hosts * cap.memoryBytes), cpu: used.cpu / (hosts * cap.millicores) } : { memory: 0, cpu: 0 },
    shortfall: cap.host.count !== undefined && hosts > cap.host.count ? hosts - cap.host.count : undefined,
    cost: costOf({ hosts, hostPrice: price, instances, licensedVms }, a),
  };
}

/**
 * A workload that no host type can hold in a form some strategy needs is an input error: say
 * which, in which form, and by how much it exceeds the largest host.
 */
function rejectTooLarge(sized: Sized[], caps: Capacity[], inv: Inventory): void {
  const largest = caps.reduce((b, c) => (c.memoryBytes > b.memoryBytes ? c : b));
  for (const s of sized) {
    // Leanest form first: if even that fits nowhere, the message names it.
    const kinds = [...new Set(STRATEGIES.map((st) => kindFor(s, st)))].sort((x, y) => s.demand[x].memoryBytes - s.demand[y].memoryBytes);
    for (const kind of kinds) {
      const d = s.demand[kind];
      if (caps.some((c) => d.memoryBytes <= c.memoryBytes && d.millicores <= c.millicores)) continue;
      const over: string[] = [];
      if (d.memoryBytes > largest.memoryBytes) over.push(`${formatBytes(d.memoryBytes - largest.memoryBytes)} more memory`);
      if (d.millicores > largest.millicores) over.push(`${((d.millicores - largest.millicores) / 1000).toFixed(2)} more cores`);
      const path = inv.source?.workloadPath(s.w.index) ?? [];
      const line = inv.source?.lineOf(path);
      const where = inv.source ? `${inv.source.file}${line ? `:${line}` : ''}: ` : '';
      throw invalid(
        `${where}workload "${s.w.name}" is larger than any host: as ${kind} it needs ${formatBytes(d.memoryBytes)} and ${d.millicores / 1000} cores, ` +
          `${over.join(' and ')} than host ${largest.host.name} offers (${formatBytes(largest.memoryBytes)}, ${largest.millicores / 1000} cores after its reserve)`,
        'split it, lower its memory or cpus, or give a bigger --host',
      );
    }
  }
}

/** Density rows for the inventory's most common sizes (by instances), every kind. */
function commonSizes(sized: Sized[], cap: Capacity, a: Assumptions, limit = 3): DensityRow[] {
  const bySize = new Map<string, { memory: number; cpus: number; instances: number }>();
  for (const s of sized) {
    const key = `${s.w.memoryBytes}/${s.w.cpus}`;
    const e = bySize.get(key) ?? { memory: s.w.memoryBytes as number, cpus: s.w.cpus as number, instances: 0 };
    e.instances += s.replicas;
    bySize.set(key, e);
  }
  return [...bySize.values()]
    .sort((x, y) => y.instances - x.instances)
    .slice(0, limit)
    .flatMap((e) => KINDS.map((k) => densityOf(k, e.memory, e.cpus, cap, a)));
}
