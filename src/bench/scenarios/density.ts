import type { Kind } from '../../core/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MeasuredKind } from '../../core/compare-result.js';
import type { InstanceRecord } from '../../state/instances.js';
import { throwIfAborted } from '../alternate.js';
import { footprints, meminfo } from '../host-probe.js';
import { median, slope, summarize } from '../stats.js';
import { MiB, type Metric, type ScenarioContext } from '../scenario.js';
import { EXAMPLE_SERVER } from '../example-server.js';

const GiB = 1024 * MiB;

export { EXAMPLE_SERVER };

export interface DensityStep {
  n: number;
  totalBytes: number;
}

/**
 * How many instances fit, from the measured marginal memory per instance: idle ones on this host
 * and on the example server, and sized ones as the density example sizes them (its instance size
 * plus the measured marginal memory of one more instance, the isolation's own cost). `overhead`
 * (the monitor's or VMM's part alone) is kept beside it for the reader.
 */
export function extrapolate(kind: MeasuredKind, marginal: number, overhead: number | undefined, hostBytes: number) {
  const size = kind === 'container' ? EXAMPLE_SERVER.containerBytes : EXAMPLE_SERVER.vmBytes;
  const m = Math.max(1, marginal);
  return {
    idleOnThisHost: Math.floor(hostBytes / m),
    sizedOnThisHost: Math.floor(hostBytes / (size + m)),
    idleOnExampleServer: Math.floor(EXAMPLE_SERVER.memoryBytes / m),
    sizedOnExampleServer: Math.floor(EXAMPLE_SERVER.memoryBytes / (size + m)),
    instanceSizeBytes: size,
    marginalBytes: marginal,
    overheadBytes: overhead ?? 0,
  };
}

/** The density note on the extrapolation, as the compare report prints it. */
export const EXTRAPOLATION_NOTE = `the verdict uses the measured marginal memory per instance: on the common comparison's example server of ${EXAMPLE_SERVER.memoryBytes / GiB} GiB, instances of its size (4 GiB VMs, 512 MiB containers) each with the measured marginal memory on top, against its claim of 25-30 VMs and 100-200 containers; extra also gives this host's own ceiling (idle instances, and instances of the example's size, in its RAM); CPU is not modelled (the comparison gives no CPU per instance)`;

/** Steps of N: 1, 2, 4, ... up to max (containers), or 1, 2, 3, ... (VMs: few, so every step counts). */
export function steps(max: number, linear = false): number[] {
  const out: number[] = [];
  for (let n = 1; n <= max; n = linear ? n + 1 : n * 2) out.push(n);
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
  const maxN: Record<string, number> = ctx.quick ? { container: 8, vm: 2, hybrid: 2 } : { container: 16, vm: 4, hybrid: 4 };
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
      for (const n of steps(maxN[kind] ?? 4, kind !== 'container')) {
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
    sample: 'the marginal memory between two consecutive steps of N idle instances',
    notes: [
      `idle instances (sleep) in steps of N up to ${Object.entries(maxN).filter(([k]) => ctx.kinds.includes(k as Kind)).map(([k, n]) => `${n} ${k}s`).join(', ')} within the budget of ${Math.round(ctx.densityBudget / MiB)} MiB; sample = marginal PSS per extra instance between steps`,
      EXTRAPOLATION_NOTE,
      'kernel-side memory per instance (page tables, network namespace, cgroup, KVM structures) is not included',
    ],
    extra,
  };
}
