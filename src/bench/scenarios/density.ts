import type { Kind } from '../../core/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MeasuredKind } from '../../core/compare-result.js';
import type { InstanceRecord } from '../../state/instances.js';
import { throwIfAborted } from '../alternate.js';
import { footprints, meminfo } from '../host-probe.js';
import { median, slope, summarize } from '../stats.js';
import { MiB, type Metric, type ScenarioContext } from '../scenario.js';

const GiB = 1024 * MiB;

/**
 * The server and instance sizes of the common comparison's density example (docs/CLAIMS.md):
 * "128GB RAM and 32 CPU cores", VMs "with 4GB RAM each", containers "with 512MB each" (taken as GiB, MiB).
 */
export const EXAMPLE_SERVER = { memoryBytes: 128 * GiB, cores: 32, vmBytes: 4 * GiB, containerBytes: 512 * MiB };

export interface DensityStep {
  n: number;
  totalBytes: number;
}

/** How many instances fit: idle ones by their marginal cost, sized ones as the density example sizes them. */
export function extrapolate(kind: MeasuredKind, marginal: number, overhead: number | undefined, hostBytes: number) {
  const size = kind === 'container' ? EXAMPLE_SERVER.containerBytes : EXAMPLE_SERVER.vmBytes;
  return {
    idleOnThisHost: Math.floor(hostBytes / marginal),
    idleOnExampleServer: Math.floor(EXAMPLE_SERVER.memoryBytes / marginal),
    // The example sizes every instance by its RAM; the isolation's own overhead comes on top.
    sizedOnExampleServer: Math.floor(EXAMPLE_SERVER.memoryBytes / (size + (overhead ?? 0))),
    instanceSizeBytes: size,
    overheadBytes: overhead ?? 0,
  };
}

/** The density note on the extrapolation, as the compare report prints it. */
export const EXTRAPOLATION_NOTE = `extrapolation: idle instances that fit in this host's RAM, and the common comparison's example server of ${EXAMPLE_SERVER.memoryBytes / GiB} GiB with 4 GiB VMs and 512 MiB containers (instance size + measured overhead each), against its claim of 25-30 VMs and 100-200 containers; CPU is not modelled (the comparison gives no CPU per instance)`;

/** Steps of N: 1, 2, 4, ... up to max. */
export function steps(max: number): number[] {
  const out: number[] = [];
  for (let n = 1; n <= max; n *= 2) out.push(n);
  if (out[out.length - 1] !== max) out.push(max);
  return out;
}

async function launchMany(ctx: ScenarioContext, kind: Kind, count: number, into: InstanceRecord[]): Promise<void> {
  const batch = kind === 'container' ? 4 : 2; // a 2-core host boots VMs under TCG slowly
  for (let i = 0; i < count; i += batch) {
    throwIfAborted(ctx.lab.signal);
    const n = Math.min(batch, count - i);
    const recs = await Promise.all(Array.from({ length: n }, () => ctx.lab.launch(kind, ['sleep', '86400'], { tag: 'dens' })));
    into.push(...recs);
  }
}

/**
 * Density: start idle instances of one kind in steps (1, 2, 4, ...) while the projected total
 * stays within --density-budget, measure the sum of PSS of all their host processes at each
 * step (read at one moment, so shared pages are split fairly), and take the marginal cost per
 * extra instance between steps. Kinds are measured one after the other, never mixed.
 */
export async function density(ctx: ScenarioContext): Promise<Metric> {
  const maxN: Record<string, number> = ctx.quick ? { container: 4, vm: 2, hybrid: 2 } : { container: 16, vm: 4, hybrid: 4 };
  const kinds: Metric['kinds'] = {};
  const notMeasured: Partial<Record<MeasuredKind, string>> = {};
  const extra: Record<string, unknown> = { budgetBytes: ctx.densityBudget, exampleServer: EXAMPLE_SERVER };
  const host = meminfo();
  for (const kind of ctx.kinds) {
    const one = ctx.facts.get(`hostCost.${kind}`);
    if (one !== undefined && one > ctx.densityBudget) {
      notMeasured[kind] = `--density-budget ${Math.round(ctx.densityBudget / MiB)} MiB is smaller than one idle ${kind} here (${Math.round(one / MiB)} MiB)`;
      continue;
    }
    const live: InstanceRecord[] = [];
    const points: DensityStep[] = [];
    try {
      for (const n of steps(maxN[kind] ?? 4)) {
        const perInstance = points.length ? (points[points.length - 1] as DensityStep).totalBytes / (points[points.length - 1] as DensityStep).n : (one ?? 0);
        if (perInstance * n > ctx.densityBudget) break;
        ctx.progress.step(`density: ${n} idle ${kind} instance(s)`);
        await launchMany(ctx, kind, n - live.length, live);
        await sleep(ctx.quick ? 300 : 1000);
        const fp = footprints(live.map((r) => r.id));
        points.push({ n, totalBytes: [...fp.values()].reduce((a, b) => a + b, 0) });
      }
    } finally {
      ctx.progress.step(`density: removing ${live.length} ${kind} instance(s)`);
      await Promise.all(live.map((r) => ctx.lab.remove(r)));
    }
    if (points.length === 0) {
      notMeasured[kind] = 'the budget did not allow a first step';
      continue;
    }
    // Marginal cost between consecutive steps; with a single step, the cost of that one instance.
    const marginals: number[] = [];
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1] as DensityStep;
      const b = points[i] as DensityStep;
      marginals.push((b.totalBytes - a.totalBytes) / (b.n - a.n));
    }
    if (marginals.length === 0) marginals.push((points[0] as DensityStep).totalBytes);
    kinds[kind] = summarize(marginals);
    const m = median(marginals);
    extra[kind] = {
      steps: points,
      slopeBytes: slope(points.map((p) => p.n), points.map((p) => p.totalBytes)),
      ...extrapolate(kind, m, ctx.facts.get(`overhead.${kind}`), host.totalBytes),
    };
  }
  extra.hostMemoryBytes = host.totalBytes;
  return {
    id: 'density_marginal_bytes',
    unit: 'bytes',
    kinds,
    ...(Object.keys(notMeasured).length ? { notMeasured } : {}),
    notes: [
      `idle instances (sleep) in steps of N up to ${Object.entries(maxN).filter(([k]) => ctx.kinds.includes(k as Kind)).map(([k, n]) => `${n} ${k}s`).join(', ')} within the budget of ${Math.round(ctx.densityBudget / MiB)} MiB; sample = marginal PSS per extra instance between steps`,
      EXTRAPOLATION_NOTE,
      'kernel-side memory per instance (page tables, network namespace, cgroup, KVM structures) is not included',
    ],
    extra,
  };
}
