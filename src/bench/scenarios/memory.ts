import type { MeasuredKind } from '../../core/compare-result.js';
import type { InstanceRecord } from '../../state/instances.js';
import type { Engine } from '../../engine/engine.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { throwIfAborted } from '../alternate.js';
import { footprints } from '../host-probe.js';
import { summarize } from '../stats.js';
import type { Metric, ScenarioContext } from '../scenario.js';

/** One idle instance's memory as the host sees it. */
export interface MemoryReading {
  id: string;
  /** Stats.hostOverheadBytes: the monitor's PSS, or QEMU's memory beyond the guest RAM. */
  overhead: number | null;
  /** PSS of every host process of the instance (the monitor or VMM and all their descendants). */
  hostCost: number | null;
  /** The guest RAM a VM has touched (Stats.memoryBytes), when the kind reports it from the host. */
  guestBytes?: number | null;
}

/** Reads one instance once. */
export async function readMemory(engine: Engine, rec: InstanceRecord): Promise<MemoryReading> {
  const { stats } = await engine.stats(rec.id);
  const fp = footprints([rec.id]).get(rec.id) ?? 0;
  return { id: rec.id, overhead: stats.hostOverheadBytes, hostCost: fp > 0 ? fp : null, ...(rec.kind === 'vm' ? { guestBytes: stats.memoryBytes } : {}) };
}

/**
 * Memory of idle instances, one reading per instance (the probe instances: idle echo servers,
 * several per kind), so that each sample is a separate instance and the interval says how much
 * instances differ, not how steady one instance's counters are:
 *  - overhead: what the host pays beyond the workload, as the driver reports it in
 *    Stats.hostOverheadBytes (container: the monitor's PSS; VM: QEMU's resident memory minus
 *    the guest RAM mapping, Firecracker's method): the cost of the isolation itself;
 *  - host cost: the PSS of every host process of the instance (monitor or VMM and all their
 *    descendants), so for a VM it includes the guest pages its kernel and init touched, for a
 *    container the workload's own processes.
 */
export async function memory(ctx: ScenarioContext): Promise<Metric[]> {
  const over = new Map<MeasuredKind, number[]>();
  const cost = new Map<MeasuredKind, number[]>();
  const ids: Record<string, string[]> = {};
  const notMeasured: Partial<Record<MeasuredKind, string>> = {};
  await sleep(ctx.quick ? 500 : 1500); // let the instances settle after start
  for (const kind of ctx.kinds) {
    const list = ctx.probes.get(kind) ?? [];
    if (list.length === 0) {
      notMeasured[kind] = 'no probe instance';
      continue;
    }
    const o: number[] = [];
    const c: number[] = [];
    for (const [i, rec] of list.entries()) {
      throwIfAborted(ctx.lab.signal);
      ctx.progress.step(`memory: ${kind} instance ${i + 1}/${list.length}`);
      const r = await readMemory(ctx.lab.engine, rec);
      if (r.overhead !== null) o.push(r.overhead);
      if (r.hostCost !== null) c.push(r.hostCost);
      (ids[kind] ??= []).push(rec.id);
    }
    if (o.length) over.set(kind, o);
    else notMeasured[kind] = 'the driver does not report host overhead (Stats.hostOverheadBytes)';
    if (c.length) cost.set(kind, c);
  }
  const mk = (id: Metric['id'], m: Map<MeasuredKind, number[]>, notes: string[]): Metric => {
    const kinds: Metric['kinds'] = {};
    for (const [k, xs] of m) kinds[k] = summarize(xs);
    const nm = Object.fromEntries(Object.entries(notMeasured).filter(([k]) => !m.has(k as MeasuredKind)));
    return { id, unit: 'bytes', kinds, ...(Object.keys(nm).length ? { notMeasured: nm } : {}), notes, sample: 'one idle instance, read once', extra: { instances: ids } };
  };
  const overhead = mk('memory_overhead_bytes', over, [
    'the isolation\'s own part: container = PSS of the monitor (conmon; runc does not stay); VM = QEMU resident memory minus the resident guest RAM mapping (Firecracker\'s memory-overhead method); under TCG it includes the translation cache, which KVM does not have',
    'one reading per instance, several idle instances (busybox nc echo servers) per kind: n counts instances',
    'kernel-side memory (page tables, network namespace, cgroup) is not included',
  ]);
  const hostCost = mk('memory_host_cost_bytes', cost, [
    'everything the host pays for one idle instance: the PSS of its host processes (monitor or VMM and all descendants), so for a VM the guest pages its kernel, init and OS touched, for a container the idle workload\'s processes',
    'the comparison\'s "Memory Overhead" is judged here: for a VM it is the OS inside plus the VMM; memory: of which monitor/VMM shows the virtualization\'s part alone',
    'one reading per instance, several idle instances per kind: n counts instances',
  ]);
  for (const [k, s] of Object.entries(hostCost.kinds)) ctx.facts.set(`hostCost.${k}`, s.median);
  for (const [k, s] of Object.entries(overhead.kinds)) ctx.facts.set(`overhead.${k}`, s.median);
  return [hostCost, overhead];
}
