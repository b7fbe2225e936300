import fs from 'node:fs';
import path from 'node:path';
import type { Capability, Kind } from '../core/types.js';
import { KINDS } from '../core/types.js';
import type { Engine } from '../engine/engine.js';
import { IsolaError, invalid } from '../core/errors.js';
import { COMPARE_FORMAT, COMPARE_VERSION, type CompareResult, type MetricResult } from '../core/compare-result.js';
import type { InstanceRecord } from '../state/instances.js';
import { Aborted, throwIfAborted } from './alternate.js';
import { buildContext } from './context.js';
import { fmtBytes } from './format.js';
import { Lab } from './lab.js';
import { HELPER_PATH, probeBinary } from './probe-binary.js';
import type { Progress } from './progress.js';
import { NEEDED_PROGRAMS, PROBE_ARGV, type ScenarioContext } from './scenario.js';
import { cpu } from './scenarios/cpu.js';
import { density } from './scenarios/density.js';
import { disk } from './scenarios/disk.js';
import { io } from './scenarios/io.js';
import { ioShared } from './scenarios/io-shared.js';
import { memory } from './scenarios/memory.js';
import { network } from './scenarios/network.js';
import { startupParallel, startupSerial } from './scenarios/startup.js';
import { applyVerdicts } from './verdict.js';

export interface CompareOptions {
  engine: Engine;
  image: string;
  /** Kinds the user asked for; undefined means every kind this build knows. */
  kinds?: Kind[];
  runs?: number;
  quick: boolean;
  densityBudget: number;
  progress: Progress;
  signal: AbortSignal;
}

/** Run counts: sized so that defaults finish in about 5 minutes with VMs under TCG on 2 cores, --quick in 90 s. */
export function plan(quick: boolean, runs?: number): { runs: number; warmup: number; parallel: number; parallelRounds: number } {
  return quick ? { runs: runs ?? 3, warmup: 1, parallel: 2, parallelRounds: 1 } : { runs: runs ?? 10, warmup: 1, parallel: 4, parallelRounds: 2 };
}

/** Which requested kinds this host can run now; the others with the driver's reason. */
export async function probeKinds(engine: Engine, requested: readonly Kind[] | undefined): Promise<{ caps: Map<Kind, Capability>; usable: Kind[]; skipped: Map<Kind, string> }> {
  const caps = new Map<Kind, Capability>();
  for (const d of engine.drivers.all()) caps.set(d.kind, await d.probe());
  const wanted = requested ?? KINDS;
  const usable: Kind[] = [];
  const skipped = new Map<Kind, string>();
  for (const k of wanted) {
    const cap = caps.get(k);
    if (!cap) skipped.set(k, `the ${k} kind is not in this build of isola yet`);
    else if (!cap.ok) skipped.set(k, cap.reason ?? 'the driver says this host cannot run it');
    else usable.push(k);
  }
  return { caps, usable, skipped };
}

/** A program is there when PATH (the image's, else the usual one) finds it in the unpacked tree. */
export function missingPrograms(tree: string, env: string[]): string[] {
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const dirs = pathVar.split(':').filter(Boolean);
  const exists = (p: string): boolean => {
    // Resolve symlinks inside the tree (busybox applets are links to /bin/busybox).
    let cur = p;
    for (let i = 0; i < 16; i++) {
      let st: fs.Stats;
      try {
        st = fs.lstatSync(path.join(tree, cur));
      } catch {
        return false;
      }
      if (!st.isSymbolicLink()) return st.isFile();
      const target = fs.readlinkSync(path.join(tree, cur));
      cur = target.startsWith('/') ? target : path.join(path.dirname(cur), target);
    }
    return false;
  };
  return Object.keys(NEEDED_PROGRAMS).filter((prog) => !dirs.some((d) => exists(path.join(d, prog))));
}

export async function runCompare(o: CompareOptions): Promise<CompareResult> {
  const startedAt = new Date();
  const t0 = Date.now();
  const p = plan(o.quick, o.runs);
  const { caps, usable, skipped } = await probeKinds(o.engine, o.kinds);
  for (const [k, why] of skipped) o.progress.note(`skipping ${k}: ${why}`);
  if (usable.length === 0) throw new IsolaError('UNAVAILABLE', `none of the requested kinds can run here (${[...skipped].map(([k, w]) => `${k}: ${w}`).join('; ')})`, 'run isola host to see why, or pick --kinds that this host offers');

  const image = await o.engine.resolveImage(o.image);
  const lab = new Lab(o.engine, image, o.signal);
  const metrics: MetricResult[] = [];
  const probes = new Map<Kind, InstanceRecord>();
  try {
    o.progress.step(`checking that ${image.ref} has what the probes need`);
    const tree = await lab.nativeTree();
    const missing = missingPrograms(tree, image.config.env);
    if (missing.length) {
      throw invalid(`image ${image.ref} lacks ${missing.map((m) => `${m} (${NEEDED_PROGRAMS[m]})`).join(', ')}`, 'use an image with a shell and busybox (or coreutils, awk and a netcat with -e), such as base');
    }
    let helper: string | null = null;
    let helperMissing: string | undefined;
    try {
      helper = await probeBinary(o.engine.config.assets);
      fs.mkdirSync(path.join(tree, 'tmp'), { recursive: true });
      fs.copyFileSync(helper, path.join(tree, HELPER_PATH));
      fs.chmodSync(path.join(tree, HELPER_PATH), 0o755);
    } catch (e) {
      helperMissing = e instanceof IsolaError ? e.oneLine() : String(e);
      o.progress.note(`CPU and disk I/O will not be measured: ${helperMissing}`);
    }

    const ctx: ScenarioContext = {
      lab, kinds: usable, runs: p.runs, warmup: p.warmup, quick: o.quick, progress: o.progress, probes, helper,
      ...(helperMissing ? { helperMissing } : {}), densityBudget: o.densityBudget, facts: new Map(),
    };
    const attempt = async (what: string, ids: MetricResult['id'][], fn: () => Promise<MetricResult[]> | MetricResult[]) => {
      try {
        metrics.push(...(await fn()));
      } catch (e) {
        if (e instanceof Aborted || o.signal.aborted) throw new Aborted();
        const why = `${what} failed: ${e instanceof IsolaError ? e.oneLine() : (e as Error).message}`;
        o.progress.note(why);
        for (const id of ids) metrics.push({ id, unit: '', kinds: {}, notMeasured: Object.fromEntries(['native', ...usable].map((k) => [k, why])) });
      }
    };

    for (const kind of usable) {
      o.progress.step(`starting an idle ${kind} (echo server) for memory, disk, CPU, I/O and network`);
      probes.set(kind, await lab.launch(kind, PROBE_ARGV, { tag: 'probe' }));
    }
    await attempt('memory', ['memory_overhead_bytes', 'memory_host_cost_bytes'], () => memory(ctx));
    const costs = usable.map((k) => [k, ctx.facts.get(`hostCost.${k}`)] as const).filter((x): x is readonly [Kind, number] => x[1] !== undefined);
    if (costs.length && costs.every(([, c]) => c > o.densityBudget)) {
      const smallest = Math.min(...costs.map(([, c]) => c));
      throw invalid(`--density-budget ${fmtBytes(o.densityBudget)} is smaller than one idle instance here (${costs.map(([k, c]) => `${k} ${fmtBytes(c)}`).join(', ')})`, `give at least --density-budget ${Math.ceil((smallest * 2) / (1024 * 1024))}m`);
    }
    await attempt('disk space', ['disk_image_bytes', 'disk_rootdisk_bytes', 'disk_instance_bytes'], () => disk(ctx));
    if (helper) {
      for (const [kind, rec] of probes) {
        o.progress.step(`copying the benchmark helper into the ${kind}`);
        const r = await lab.exec(rec, ['sh', '-c', `cat > ${HELPER_PATH} && chmod 755 ${HELPER_PATH}`], fs.readFileSync(helper));
        if (r.code !== 0) throw new IsolaError('INTERNAL', `cannot copy the benchmark helper into the ${kind}: ${r.stderr.trim()}`, 'check that /tmp in the image is writable');
      }
      await attempt('CPU', ['cpu_overhead_ratio'], async () => [await cpu(ctx)]);
      await attempt('disk I/O', ['io_seq_ratio', 'io_rand_ratio'], () => io(ctx));
      await attempt('shared-folder I/O', ['io_shared_seq_ratio', 'io_shared_rand_ratio'], () => ioShared(ctx));
    } else {
      for (const id of ['cpu_overhead_ratio', 'io_seq_ratio', 'io_rand_ratio', 'io_shared_seq_ratio', 'io_shared_rand_ratio'] as const) {
        metrics.push({ id, unit: 'ratio', kinds: {}, notMeasured: Object.fromEntries(usable.map((k) => [k, helperMissing ?? 'no helper'])) });
      }
    }
    await attempt('network', ['net_rtt_p50_us', 'net_rtt_p99_us'], () => network(ctx));
    o.progress.step('removing the idle instances');
    for (const [k, rec] of [...probes]) {
      await lab.remove(rec);
      probes.delete(k);
    }
    throwIfAborted(o.signal);
    await attempt('startup', ['startup_ready_ms', 'startup_init_ms', 'startup_first_output_ms'], () => startupSerial(ctx));
    await attempt('parallel startup', ['startup_parallel_ms'], async () => [await startupParallel(ctx, p.parallel, p.parallelRounds)]);
    await attempt('density', ['density_marginal_bytes'], async () => [await density(ctx)]);
  } finally {
    o.progress.step('cleaning up');
    await lab.cleanupAll();
    o.progress.done();
  }
  const context = buildContext(image.ref, caps, usable, o.quick, startedAt);
  for (const [k, why] of skipped) context.kinds = { ...context.kinds, [k]: { measured: false, reason: why, ...(caps.get(k) ? { details: caps.get(k)?.details } : {}) } };
  context.runs = p.runs;
  context.warmup = p.warmup;
  context.bootstrapSeed = 1;
  context.durationMs = Date.now() - t0;
  return applyVerdicts({ format: COMPARE_FORMAT, version: COMPARE_VERSION, context, metrics });
}
