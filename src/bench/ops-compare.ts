import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kind } from '../core/types.js';
import { IsolaError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { COMPARE_FORMAT, COMPARE_VERSION, type CompareResult, type MeasuredKind, type MetricId, type MetricResult, type OpsContext, type Summary } from '../core/compare-result.js';
import { Aborted, throwIfAborted } from './alternate.js';
import type { Arm } from './compare.js';
import { probeKinds } from './compare.js';
import { buildContext } from './context.js';
import { Lab } from './lab.js';
import type { Progress } from './progress.js';
import { IDLE_ARGV, opsRuns, type OpsTimes } from './scenarios/ops.js';
import { measureSnapshotOps, type SnapshotOpTimes } from './snapshot-ops.js';
import { fmtValue } from './format.js';
import { summarize } from './stats.js';
import { applyVerdicts } from './verdict.js';

/**
 * Replicas and counted runs per kind: 3 runs (the fewest a verdict takes) of 5 replicas for every
 * kind; measured here, the whole table took 116 s for the three kinds with VMs under TCG at 2 runs.
 */
export function opsPlan(_kind: Kind, o: { runs?: number; replicas?: number }): { replicas: number; runs: number } {
  return { replicas: o.replicas ?? 5, runs: o.runs ?? 3 };
}

export interface OpsOptions {
  engine: Engine;
  kinds?: Arm[];
  runs?: number;
  /** Replicas per service (default 5). */
  replicas?: number;
  progress: Progress;
  signal: AbortSignal;
}

export const OPS_IDS: readonly MetricId[] = ['ops_scale_ms', 'ops_update_ms', 'ops_rollback_ms', 'ops_snapshot_ms', 'ops_restore_ms'];

const NOTES: Partial<Record<MetricId, string[]>> = {
  ops_scale_ms: ['compose up of a one-service stack from 1 replica to N (N in the context), until every replica runs (no healthcheck: running is ready), as isola compose up --scale web=N does'],
  ops_update_ms: ['compose up after the service changed (a new revision), which replaces every replica one at a time: each new replica running before an old one stops, as a new image would; isola updates every kind by replacement, VMs too, not in place'],
  ops_rollback_ms: ['compose rollback web: every replica replaced again from the previous revision, rolled the same way; isola rolls back every kind by redeploying the previous revision, VMs too (snapshots are the rows below)'],
  ops_snapshot_ms: ['isola snapshot create of one stopped instance (a VM\'s disk overlay, a container\'s writable layer)'],
  ops_restore_ms: ['isola snapshot restore of that snapshot on the same stopped instance'],
};

/** The rows from the measured times; a kind that failed is listed with its reason. */
export function opsMetrics(times: ReadonlyMap<Kind, OpsTimes | string>, snaps: ReadonlyMap<Kind, SnapshotOpTimes | string>): MetricResult[] {
  const row = (id: MetricId, sample: string, pick: (k: Kind) => number[] | string): MetricResult => {
    const kinds: Partial<Record<MeasuredKind, Summary>> = {};
    const notMeasured: Partial<Record<MeasuredKind, string>> = {};
    for (const k of new Set<Kind>([...times.keys(), ...snaps.keys()])) {
      const v = pick(k);
      if (typeof v === 'string') notMeasured[k] = v;
      else if (v.length) kinds[k] = summarize(v);
    }
    return { id, unit: 'ms', kinds, ...(Object.keys(notMeasured).length ? { notMeasured } : {}), notes: NOTES[id] ?? [], sample };
  };
  const t = (f: (x: OpsTimes) => number[]) => (k: Kind) => {
    const x = times.get(k);
    return x === undefined ? 'not measured' : typeof x === 'string' ? x : f(x);
  };
  const s = (f: (x: SnapshotOpTimes) => number[]) => (k: Kind) => {
    const x = snaps.get(k);
    return x === undefined ? 'not measured' : typeof x === 'string' ? x : f(x);
  };
  return [
    row('ops_scale_ms', 'one scale-out of a fresh stack', t((x) => x.scaleMs)),
    row('ops_update_ms', 'one rolling update of a fresh stack', t((x) => x.updateMs)),
    row('ops_rollback_ms', 'one rollback of a fresh stack', t((x) => x.rollbackMs)),
    row('ops_snapshot_ms', 'one snapshot of the same stopped instance', s((x) => x.snapshotMs)),
    row('ops_restore_ms', 'one restore of the same stopped instance', s((x) => x.restoreMs)),
  ];
}

const why = (e: unknown): string => (e instanceof IsolaError ? e.oneLine() : (e as Error).message);

/** compare --ops: the operations table only, per kind this host runs (the full-OS VM has no compose service). */
export async function runOpsCompare(o: OpsOptions): Promise<CompareResult> {
  const startedAt = new Date();
  const t0 = Date.now();
  const { caps, usable, skipped } = await probeKinds(o.engine, (o.kinds ?? ['container', 'vm', 'hybrid']).filter((k) => k !== 'vm-os'), false);
  if (o.kinds?.includes('vm-os')) skipped.set('vm-os', 'the operations table measures isola\'s kinds: a full-OS VM is no compose service');
  for (const [k, w] of skipped) o.progress.note(`skipping ${k}: ${w}`);
  if (usable.length === 0) throw new IsolaError('UNAVAILABLE', `none of the requested kinds can run here (${[...skipped].map(([k, w]) => `${k}: ${w}`).join('; ')})`, 'run isola host to see why, or pick --kinds that this host offers');
  const image = await o.engine.resolveImage('base');
  const context = buildContext(image.ref, caps, usable, false, startedAt);
  const lab = new Lab(o.engine, image, o.signal);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-ops-'));
  const times = new Map<Kind, OpsTimes | string>();
  const snaps = new Map<Kind, SnapshotOpTimes | string>();
  const perKind: OpsContext['perKind'] = {};
  try {
    for (const kind of usable) {
      const p = opsPlan(kind, { ...(o.runs ? { runs: o.runs } : {}), ...(o.replicas ? { replicas: o.replicas } : {}) });
      perKind[kind] = p;
      try {
        times.set(kind, await opsRuns(o.engine, kind, image, { ...p, waitMs: 300_000 }, { dir, step: (s) => o.progress.step(s), signal: o.signal }));
      } catch (e) {
        if (e instanceof Aborted || o.signal.aborted) throw new Aborted();
        o.progress.note(`operations, ${kind}: ${why(e)}`);
        times.set(kind, `failed: ${why(e)}`);
      }
      throwIfAborted(o.signal);
      try {
        o.progress.step(`operations, ${kind}: snapshot and restore, ${p.runs} runs`);
        const rec = await lab.launch(kind, [...IDLE_ARGV], { tag: 'snap' });
        const w = await lab.exec(rec, ['sh', '-c', 'echo state > /var/tmp/ops && sync']);
        if (w.code !== 0) throw new IsolaError('INTERNAL', `cannot write in the ${kind}: ${w.stderr.trim()}`);
        await o.engine.stop(rec.id);
        snaps.set(kind, await measureSnapshotOps(o.engine, rec.id, p.runs));
        await lab.remove(rec);
      } catch (e) {
        if (e instanceof Aborted || o.signal.aborted) throw new Aborted();
        o.progress.note(`snapshots, ${kind}: ${why(e)}`);
        snaps.set(kind, `failed: ${why(e)}`);
      }
    }
  } finally {
    o.progress.step('cleaning up');
    await lab.cleanupAll();
    fs.rmSync(dir, { recursive: true, force: true });
    o.progress.done();
  }
  for (const [k, w] of skipped) context.kinds = { ...context.kinds, [k]: { measured: false, reason: w } };
  context.ops = { image: image.ref, perKind, ready: 'running (the service has no healthcheck)' };
  context.runs = Math.max(...Object.values(perKind).map((x) => x?.runs ?? 0));
  context.warmup = 0;
  context.bootstrapSeed = 1;
  context.durationMs = Date.now() - t0;
  const result = applyVerdicts({ format: COMPARE_FORMAT, version: COMPARE_VERSION, context, metrics: opsMetrics(times, snaps) });
  const text = opsSummary(result);
  if (text) result.summary = [{ section: 'ops', text }];
  return result;
}

/** One sentence per report: each operation's median per kind measured, emulated VMs said so. */
export function opsSummary(r: CompareResult): string | null {
  const parts: string[] = [];
  const label: Partial<Record<MetricId, string>> = { ops_scale_ms: 'scale out', ops_update_ms: 'rolling update', ops_rollback_ms: 'rollback', ops_snapshot_ms: 'snapshot', ops_restore_ms: 'restore' };
  for (const m of r.metrics) {
    const cells = Object.entries(m.kinds).map(([k, v]) => `${k} ${fmtValue(v.median, m.unit)}${r.context.emulated && k !== 'container' && k !== 'native' ? ' (TCG)' : ''}`);
    if (cells.length) parts.push(`${label[m.id] ?? m.id}: ${cells.join(', ')}`);
  }
  if (!parts.length) return null;
  const n = Object.entries(r.context.ops?.perKind ?? {}).map(([k, p]) => `${k} ${p?.replicas ?? '?'}`).join(', ');
  return `Operations (medians; replicas: ${n}): ${parts.join('; ')}.`;
}
