import fs from 'node:fs';
import type { Kind } from '../../core/types.js';
import type { MeasuredKind } from '../../core/compare-result.js';
import { alternate, throwIfAborted } from '../alternate.js';
import type { Lab } from '../lab.js';
import { summarize } from '../stats.js';
import type { Metric, ScenarioContext } from '../scenario.js';

/**
 * Startup, as milestones of one launch, all from the moment the engine is asked to create the
 * instance (what `isola run` does after its own process started):
 *  - ready: the monitor or VMM is up: its pidfile in the instance's runtime folder (conmon.pid,
 *    qemu.pid), seen with inotify; never the workload's pidfile (`pid`, written by runc create,
 *    which comes later and would time runc too);
 *  - init: the driver reports the workload's process started (runc start returned; the guest
 *    init reported it);
 *  - first output: the workload's first log line arrives on the host.
 * Serial launches alternate between kinds; a parallel launch starts several at once.
 */
export interface Launch {
  readyMs: number | null;
  initMs: number;
  firstOutputMs: number | null;
}

export const MARKER = 'isola-first-output';

/** The pidfiles a monitor or VMM writes in an instance's runtime folder: conmon's and QEMU's. */
export const MONITOR_PIDFILES: readonly string[] = ['conmon.pid', 'qemu.pid'];

/** Whether a file written in the runtime folder says the monitor or VMM is up (runc's `pid` does not). */
export function isMonitorPidfile(name: string): boolean {
  return MONITOR_PIDFILES.includes(name);
}

export async function timedLaunch(lab: Lab, kind: Kind, tag: string): Promise<Launch> {
  const t0 = performance.now();
  let readyMs: number | null = null;
  const rec = await lab.create(kind, ['echo', MARKER], { tag });
  let watcher: fs.FSWatcher | undefined;
  try {
    try {
      watcher = fs.watch(rec.spec.runDir, (_ev, file) => {
        if (readyMs === null && file && isMonitorPidfile(String(file))) readyMs = performance.now() - t0;
      });
    } catch {
      /* no runtime folder to watch: ready stays unmeasured */
    }
    const started = await lab.start(rec);
    const initMs = performance.now() - t0;
    let firstOutputMs: number | null = null;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 60_000);
    try {
      for await (const e of lab.engine.logs(started, true, ac.signal)) {
        if (e.text.includes(MARKER)) {
          firstOutputMs = performance.now() - t0;
          break;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    return { readyMs, initMs, firstOutputMs };
  } finally {
    watcher?.close();
    await lab.remove(rec);
  }
}

function metricOf(id: Metric['id'], per: Map<MeasuredKind, number[]>, missing: Partial<Record<MeasuredKind, string>>, notes: string[]): Metric {
  const kinds: Metric['kinds'] = {};
  const notMeasured: Partial<Record<MeasuredKind, string>> = { ...missing };
  for (const [k, xs] of per) {
    if (xs.length) kinds[k] = summarize(xs);
    else notMeasured[k] ??= 'no sample';
  }
  return { id, unit: 'ms', kinds, ...(Object.keys(notMeasured).length ? { notMeasured } : {}), notes, sample: 'one launch of a new instance' };
}

export async function startupSerial(ctx: ScenarioContext): Promise<Metric[]> {
  const { lab } = ctx;
  const launches = await alternate(
    ctx.kinds.map((kind) => ({
      name: kind,
      run: async (round: number) => {
        ctx.progress.step(`startup: ${kind} launch ${round < 0 ? 'warm-up' : `${round + 1}/${ctx.runs}`}`);
        return timedLaunch(lab, kind, 'start');
      },
    })),
    { warmup: ctx.warmup, runs: ctx.runs, signal: lab.signal },
  );
  const get = (f: (l: Launch) => number | null) =>
    new Map<MeasuredKind, number[]>(ctx.kinds.map((k) => [k, (launches.get(k) ?? []).map(f).filter((x): x is number => x !== null)]));
  const common = [`serial launches of \`echo\`, ${ctx.runs} counted per kind after ${ctx.warmup} warm-up, kinds alternated`, 'timed in the isola process from the create call; the CLI\'s own process start is not included (npm run bench times the whole `isola run`)'];
  return [
    metricOf('startup_ready_ms', get((l) => l.readyMs), {}, [...common, 'ready = the monitor (conmon.pid) or VMM (qemu.pid) wrote its pidfile; the workload\'s own pidfile (runc\'s) is not counted']),
    metricOf('startup_init_ms', get((l) => l.initMs), {}, [...common, 'init = the driver reports the workload process started (for a VM: the guest init started it)']),
    metricOf('startup_first_output_ms', get((l) => l.firstOutputMs), {}, [...common, 'first output = the workload\'s first line reached the host (log follow polls every 20-25 ms)']),
  ];
}

/**
 * P instances launched at once, `rounds` times per kind; every instance is a sample: its own
 * time from the create call to its first output while the others start beside it.
 */
export async function startupParallel(ctx: ScenarioContext, parallel: number, rounds: number): Promise<Metric> {
  const per = new Map<MeasuredKind, number[]>(ctx.kinds.map((k) => [k, []]));
  const totals: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const kind of ctx.kinds) {
      throwIfAborted(ctx.lab.signal);
      ctx.progress.step(`startup: ${parallel} ${kind} instances at once, round ${r + 1}/${rounds}`);
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: parallel }, () => timedLaunch(ctx.lab, kind, 'par')));
      for (const x of results) if (x.firstOutputMs !== null) per.get(kind)?.push(x.firstOutputMs);
      (totals[kind] ??= []).push(Math.max(...results.map((x) => x.firstOutputMs ?? performance.now() - t0)));
    }
  }
  const m = metricOf('startup_parallel_ms', per, {}, [`${parallel} instances started at once, ${rounds} round(s) per kind; sample = one instance's time from its create call to its first output while the others start too (the wall time of each round is in extra.wallMs)`]);
  m.extra = { parallel, rounds, wallMs: totals };
  m.sample = `one instance of ${parallel} started at once`;
  return m;
}
