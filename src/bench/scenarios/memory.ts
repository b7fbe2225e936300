import type { MeasuredKind } from '../../core/compare-result.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { alternate } from '../alternate.js';
import { footprints } from '../host-probe.js';
import { summarize } from '../stats.js';
import type { Metric, ScenarioContext } from '../scenario.js';


/**
 * Memory of one idle instance per kind (the probe instance: an idle echo server), sampled
 * `runs` times, kinds alternated:
 *  - overhead: what the host pays beyond the workload, as the driver reports it in
 *    Stats.hostOverheadBytes (container: the monitor's PSS; VM: QEMU's resident memory minus
 *    the guest RAM mapping, Firecracker's method);
 *  - host cost: the PSS of every host process of the instance (monitor or VMM and all their
 *    descendants), so for a VM it includes the guest pages touched, for a container the
 *    workload's own processes.
 */
export async function memory(ctx: ScenarioContext): Promise<Metric[]> {
  const over = new Map<MeasuredKind, number[]>();
  const cost = new Map<MeasuredKind, number[]>();
  const notMeasured: Partial<Record<MeasuredKind, string>> = {};
  await sleep(ctx.quick ? 500 : 1500); // let the instances settle after start
  const res = await alternate(
    ctx.kinds.filter((k) => ctx.probes.has(k)).map((kind) => ({
      name: kind,
      run: async (round: number) => {
        ctx.progress.step(`memory: ${kind} sample ${round < 0 ? 'warm-up' : `${round + 1}/${ctx.runs}`}`);
        const rec = ctx.probes.get(kind);
        if (!rec) return { over: null, cost: null };
        const { stats } = await ctx.lab.engine.stats(rec.id);
        const fp = footprints([rec.id]).get(rec.id) ?? 0;
        await sleep(100);
        return { over: stats.hostOverheadBytes, cost: fp > 0 ? fp : null };
      },
    })),
    { warmup: 1, runs: ctx.runs, signal: ctx.lab.signal },
  );
  for (const [kind, xs] of res) {
    const k = kind as MeasuredKind;
    const o = xs.map((x) => x.over).filter((x): x is number => x !== null);
    const c = xs.map((x) => x.cost).filter((x): x is number => x !== null);
    if (o.length) over.set(k, o);
    else notMeasured[k] = 'the driver does not report host overhead (Stats.hostOverheadBytes)';
    if (c.length) cost.set(k, c);
  }
  for (const k of ctx.kinds) if (!ctx.probes.has(k)) notMeasured[k] = 'no probe instance';
  const mk = (id: Metric['id'], m: Map<MeasuredKind, number[]>, notes: string[]): Metric => {
    const kinds: Metric['kinds'] = {};
    for (const [k, xs] of m) kinds[k] = summarize(xs);
    const nm = Object.fromEntries(Object.entries(notMeasured).filter(([k]) => !m.has(k as MeasuredKind)));
    return { id, unit: 'bytes', kinds, ...(Object.keys(nm).length ? { notMeasured: nm } : {}), notes };
  };
  const overhead = mk('memory_overhead_bytes', over, [
    'one idle instance per kind (busybox nc echo server), sampled every run; not independent instances (density starts many)',
    'container: PSS of the monitor (conmon; runc does not stay); VM: QEMU resident memory minus the resident guest RAM mapping (Firecracker\'s memory-overhead method)',
    'kernel-side memory (page tables, network namespace, cgroup) is not included',
  ]);
  const hostCost = mk('memory_host_cost_bytes', cost, [
    'sum of PSS over the instance\'s host processes (monitor or VMM and all descendants): for a VM this includes guest pages touched, for a container the workload\'s processes',
  ]);
  for (const [k, s] of Object.entries(hostCost.kinds)) ctx.facts.set(`hostCost.${k}`, s.median);
  for (const [k, s] of Object.entries(overhead.kinds)) ctx.facts.set(`overhead.${k}`, s.median);
  return [overhead, hostCost];
}
