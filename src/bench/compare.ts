import fs from 'node:fs';
import path from 'node:path';
import type { Capability, Kind } from '../core/types.js';
import { KINDS } from '../core/types.js';
import type { Engine } from '../engine/engine.js';
import { IsolaError, invalid } from '../core/errors.js';
import { COMPARE_FORMAT, COMPARE_VERSION, type AppContext, type CompareResult, type FullOsContext, type MeasuredKind, type MetricId, type MetricResult } from '../core/compare-result.js';
import type { InstanceRecord } from '../state/instances.js';
import { which } from '../util/which.js';
import { Aborted, throwIfAborted } from './alternate.js';
import { buildContext } from './context.js';
import { buildExample, EXAMPLE_PROBE } from './example-app.js';
import { fmtBytes } from './format.js';
import { fullOsImage, OS_DESCRIPTION, OS_MEMORY_MIB, type FullOsImage } from './full-os.js';
import { Lab } from './lab.js';
import { wrkVersion, type AppProbe, type LoadSpec } from './load.js';
import { HELPER_PATH, probeBinary } from './probe-binary.js';
import type { Progress } from './progress.js';
import { sweepReceiveRoots } from './receive-root.js';
import { NEEDED_PROGRAMS, PROBE_ARGV, PROBES_PER_KIND, type ScenarioContext } from './scenario.js';
import { appMetrics, appScenario, type AppSample } from './scenarios/app.js';
import { cpu } from './scenarios/cpu.js';
import { density } from './scenarios/density.js';
import { disk, instanceBytes } from './scenarios/disk.js';
import { osLaunch, osMetrics, OS_NOT_MEASURED, type OsLaunch } from './scenarios/full-os.js';
import { io } from './scenarios/io.js';
import { ioShared } from './scenarios/io-shared.js';
import { memory } from './scenarios/memory.js';
import { network } from './scenarios/network.js';
import { portability } from './scenarios/portability.js';
import { startupParallel, startupSerial } from './scenarios/startup.js';
import { median } from './stats.js';
import { explainVmCost, summarizeResult } from './summary.js';
import { applyVerdicts } from './verdict.js';

/** What compare can measure: isola's kinds, and the full-OS VM (a whole disk booting Debian with systemd). */
export type Arm = Kind | 'vm-os';
export const ARMS: readonly Arm[] = [...KINDS, 'vm-os'];

export interface CompareOptions {
  engine: Engine;
  /** --image: the application's image with --http/--tcp, else the probe image. */
  image?: string;
  /** Arms the user asked for; undefined means every arm this host can run (vm-os not under --quick). */
  kinds?: Arm[];
  runs?: number;
  quick: boolean;
  densityBudget: number;
  /** --http PORT[/PATH] or --tcp PORT. */
  app?: AppProbe;
  progress: Progress;
  signal: AbortSignal;
}

export interface Plan {
  runs: number;
  warmup: number;
  parallel: number;
  parallelRounds: number;
  appRuns: number;
  osRuns: number;
  load: LoadSpec;
  transfers: number;
  receives: number;
  osReceives: number;
}

/**
 * Run counts, sized so that --quick finishes in about 90 s and the default (with the example
 * application and the full-OS VM, both under TCG on 2 cores) in under 8 minutes. --quick pushes 5
 * times (about 25 ms each). A second round of instances started at once (n=4) and 5 pulls and
 * starts were tried: those rows moved as much between two runs (their moves follow the host's
 * load, not n), and --quick took up to 85 s under load with them.
 */
export function plan(quick: boolean, runs?: number): Plan {
  return quick
    ? { runs: runs ?? 3, warmup: 1, parallel: 2, parallelRounds: 1, appRuns: runs ?? 3, osRuns: runs ?? 3, load: { threads: 1, connections: 4, durationS: 2 }, transfers: 5, receives: 3, osReceives: 1 }
    : { runs: runs ?? 6, warmup: 1, parallel: 3, parallelRounds: 1, appRuns: runs ?? 4, osRuns: runs ?? 3, load: { threads: 1, connections: 4, durationS: 3 }, transfers: 3, receives: 3, osReceives: 1 };
}

/** Which requested kinds this host can run now; the others with the driver's reason. */
export async function probeKinds(engine: Engine, requested: readonly Arm[] | undefined, quick: boolean): Promise<{ caps: Map<Kind, Capability>; usable: Kind[]; skipped: Map<MeasuredKind, string>; fullOs: boolean }> {
  const caps = new Map<Kind, Capability>();
  for (const d of engine.drivers.all()) caps.set(d.kind, await d.probe());
  const wanted = requested ?? ARMS;
  const usable: Kind[] = [];
  const skipped = new Map<MeasuredKind, string>();
  for (const k of wanted) {
    if (k === 'vm-os') continue;
    const cap = caps.get(k);
    if (!cap) skipped.set(k, `the ${k} kind is not in this build of isola yet`);
    else if (!cap.ok) skipped.set(k, cap.reason ?? 'the driver says this host cannot run it');
    else usable.push(k);
  }
  let fullOs = false;
  if (wanted.includes('vm-os')) {
    const vm = caps.get('vm');
    if (!vm?.ok) skipped.set('vm-os', `it is a VM: ${vm?.reason ?? 'the VM kind is not available'}`);
    else if (quick && !requested) skipped.set('vm-os', 'not in --quick (each boot of a full OS takes tens of seconds under emulation); name it in --kinds to include it');
    else if (!which('debootstrap', engine.config.searchPath)) skipped.set('vm-os', 'debootstrap is not installed (it builds the Debian system once); npm run bootstrap installs it');
    else fullOs = true;
  }
  return { caps, usable, skipped, fullOs };
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

/** Adds a metric's kinds, reasons, notes and extra to the row of the same id (another scenario's share of it). */
export function mergeMetric(into: MetricResult[], m: MetricResult, extraKey?: string): void {
  const have = into.find((x) => x.id === m.id);
  if (!have) {
    into.push(extraKey && m.extra ? { ...m, extra: { [extraKey]: m.extra } } : m);
    return;
  }
  have.kinds = { ...have.kinds, ...m.kinds };
  const nm = { ...(m.notMeasured ?? {}), ...(have.notMeasured ?? {}) };
  for (const k of Object.keys(m.kinds)) delete nm[k as MeasuredKind];
  for (const k of Object.keys(have.kinds)) delete nm[k as MeasuredKind];
  if (Object.keys(nm).length) have.notMeasured = nm;
  else delete have.notMeasured;
  have.notes = [...(have.notes ?? []), ...(m.notes ?? []).filter((n) => !(have.notes ?? []).includes(n))];
  if (m.extra) have.extra = { ...(have.extra ?? {}), ...(extraKey ? { [extraKey]: m.extra } : m.extra) };
  if (m.sample && have.sample && m.sample !== have.sample && !have.sample.includes(m.sample)) have.sample = `${have.sample}; ${m.sample}`;
  have.sample ??= m.sample;
  if (m.deterministic !== undefined) have.deterministic ??= m.deterministic;
}

/** Renames a kind's entries in a metric (the full-OS disk rows are measured as `vm`). */
function asKind(m: MetricResult, from: MeasuredKind, to: MeasuredKind): MetricResult {
  const kinds = m.kinds[from] ? { [to]: m.kinds[from] } : {};
  const nm = m.notMeasured?.[from] ? { notMeasured: { [to]: m.notMeasured[from] } } : {};
  return { ...m, kinds, ...nm, ...(m.notMeasured && !m.notMeasured[from] ? { notMeasured: undefined } : {}), notes: (m.notes ?? []).map((n) => `full-OS VM: ${n}`) };
}

export async function runCompare(o: CompareOptions): Promise<CompareResult> {
  const startedAt = new Date();
  const t0 = Date.now();
  const p = plan(o.quick, o.runs);
  const { caps, usable, skipped, fullOs } = await probeKinds(o.engine, o.kinds, o.quick);
  for (const [k, why] of skipped) o.progress.note(`skipping ${k}: ${why}`);
  if (usable.length === 0 && !fullOs) throw new IsolaError('UNAVAILABLE', `none of the requested kinds can run here (${[...skipped].map(([k, w]) => `${k}: ${w}`).join('; ')})`, 'run isola host to see why, or pick --kinds that this host offers');

  // The workloads: the application (yours with --http/--tcp; the example by default), and the
  // probe image for the generic probes (it needs busybox's programs).
  const exampleApp = !o.app && !o.image && !o.quick;
  const appProbe: AppProbe | undefined = o.app ?? (exampleApp ? EXAMPLE_PROBE : undefined);
  const probeRef = appProbe ? 'base' : (o.image ?? 'base');
  const sweptRoots = await sweepReceiveRoots(o.engine);
  if (sweptRoots) o.progress.note(`removed ${sweptRoots} receiving data root(s) an interrupted compare left`);
  const image = await o.engine.resolveImage(probeRef);
  const lab = new Lab(o.engine, image, o.signal);
  const metrics: MetricResult[] = [];
  const probes = new Map<Kind, InstanceRecord[]>();
  let appContext: AppContext | undefined;
  let osContext: FullOsContext | undefined;
  let os: FullOsImage | undefined;
  const osFailed: string[] = [];
  try {
    let appRef: string | undefined;
    let wrk: string | undefined;
    let wrkVer = '';
    if (appProbe) {
      appRef = o.app ? (o.image as string) : await buildExample(o.engine, (s) => o.progress.step(s));
      await o.engine.resolveImage(appRef); // an unknown image fails here, before anything runs
      if (appProbe.kind === 'http') {
        wrk = which('wrk', o.engine.config.searchPath) ?? undefined;
        if (!wrk) throw new IsolaError('UNAVAILABLE', 'the load generator wrk is not installed', 'install Debian\'s wrk package (npm run bootstrap does), or measure with --tcp');
        wrkVer = await wrkVersion(wrk);
      }
    }
    o.progress.step(`checking that ${image.ref} has what the probes need`);
    const tree = await lab.nativeTree();
    const missing = missingPrograms(tree, image.config.env);
    if (missing.length) {
      throw invalid(`image ${image.ref} lacks ${missing.map((m) => `${m} (${NEEDED_PROGRAMS[m]})`).join(', ')}`, 'use an image with a shell and busybox (or coreutils, awk and a netcat with -e), such as base; to measure your application, add --http PORT or --tcp PORT');
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
    const allArms: MeasuredKind[] = ['native', ...usable, ...(fullOs ? ['vm-os' as const] : [])];
    const attempt = async (what: string, ids: MetricId[], fn: () => Promise<MetricResult[]> | MetricResult[], arms: MeasuredKind[] = allArms, extraKey?: string) => {
      try {
        for (const m of await fn()) mergeMetric(metrics, m, extraKey);
      } catch (e) {
        if (e instanceof Aborted || o.signal.aborted) throw new Aborted();
        const why = `${what} failed: ${e instanceof IsolaError ? e.oneLine() : (e as Error).message}`;
        o.progress.note(why);
        for (const id of ids) mergeMetric(metrics, { id, unit: '', kinds: {}, notMeasured: Object.fromEntries(arms.map((k) => [k, why])) });
      }
    };

    // ---- probes: several idle instances per kind ------------------------------------------
    // A kind's instances start at once (nothing is timed here; memory is read once they settled).
    for (const kind of usable) {
      o.progress.step(`starting ${PROBES_PER_KIND} idle ${kind} instances at once (echo server) for memory, CPU, I/O and network`);
      const started = await Promise.allSettled(Array.from({ length: PROBES_PER_KIND }, () => lab.launch(kind, PROBE_ARGV, { tag: 'probe' })));
      const list = started.filter((r): r is PromiseFulfilledResult<InstanceRecord> => r.status === 'fulfilled').map((r) => r.value);
      probes.set(kind, list);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    await attempt('memory', ['memory_overhead_bytes', 'memory_host_cost_bytes'], () => memory(ctx), usable);
    const costs = usable.map((k) => [k, ctx.facts.get(`hostCost.${k}`)] as const).filter((x): x is readonly [Kind, number] => x[1] !== undefined);
    if (costs.length && costs.every(([, c]) => c > o.densityBudget)) {
      const smallest = Math.min(...costs.map(([, c]) => c));
      throw invalid(`--density-budget ${fmtBytes(o.densityBudget)} is smaller than one idle instance here (${costs.map(([k, c]) => `${k} ${fmtBytes(c)}`).join(', ')})`, `give at least --density-budget ${Math.ceil((smallest * 2) / (1024 * 1024))}m`);
    }
    const probeSizes = new Map<Kind, number[]>([...probes].map(([k, recs]) => [k, recs.map(instanceBytes)]));
    if (helper) {
      for (const [kind, recs] of probes) {
        for (const rec of recs) {
          o.progress.step(`copying the benchmark helper into the ${kind}`);
          const r = await lab.exec(rec, ['sh', '-c', `cat > ${HELPER_PATH} && chmod 755 ${HELPER_PATH}`], fs.readFileSync(helper));
          if (r.code !== 0) throw new IsolaError('INTERNAL', `cannot copy the benchmark helper into the ${kind}: ${r.stderr.trim()}`, 'check that /tmp in the image is writable');
        }
      }
      await attempt('CPU', ['cpu_overhead_ratio'], async () => [await cpu(ctx)]);
      await attempt('disk I/O', ['io_seq_ratio', 'io_rand_ratio'], () => io(ctx));
      await attempt('shared-folder I/O', ['io_shared_seq_ratio', 'io_shared_rand_ratio'], () => ioShared(ctx));
    } else {
      for (const id of ['cpu_overhead_ratio', 'io_seq_ratio', 'io_rand_ratio', 'io_shared_seq_ratio', 'io_shared_rand_ratio'] as const) {
        mergeMetric(metrics, { id, unit: 'ratio', kinds: {}, notMeasured: Object.fromEntries(usable.map((k) => [k, helperMissing ?? 'no helper'])) });
      }
    }
    await attempt('network', ['net_rtt_p50_us', 'net_rtt_p99_us'], () => network(ctx));
    o.progress.step('removing the idle instances');
    for (const [k, recs] of [...probes]) {
      for (const rec of recs) await lab.remove(rec);
      probes.delete(k);
    }
    throwIfAborted(o.signal);
    await attempt('startup', ['startup_ready_ms', 'startup_init_ms', 'startup_first_output_ms'], () => startupSerial(ctx));
    await attempt('parallel startup', ['startup_parallel_ms'], async () => [await startupParallel(ctx, p.parallel, p.parallelRounds)]);
    await attempt('density', ['density_marginal_bytes'], async () => [await density(ctx)]);

    // ---- the application -------------------------------------------------------------------
    const readyTimeoutMs = (k: Kind | 'vm-os') => (k === 'container' ? 60_000 : k === 'vm-os' ? 300_000 : 180_000);
    const appSamples = new Map<MeasuredKind, AppSample[]>();
    const appKinds = usable.filter((k) => k === 'container' || k === 'vm' || k === 'hybrid');
    let workloadImage = image;
    if (appProbe && appRef) {
      workloadImage = await o.engine.resolveImage(appRef);
      appContext = {
        image: workloadImage.ref, probe: appProbe.kind, port: appProbe.port, ...(appProbe.kind === 'http' ? { path: appProbe.path } : {}), runs: p.appRuns,
        ...(appProbe.kind === 'http' ? { load: { tool: 'wrk', version: wrkVer, ...p.load } } : {}),
      };
      const appOpts = { image: workloadImage.ref, probe: appProbe, wrk: wrk ?? 'wrk', load: p.load, runs: p.appRuns, warmup: 1, readyTimeoutMs, step: (s: string) => o.progress.step(s) };
      await attempt('application', ['app_ready_ms', 'app_rps', 'app_latency_p50_ms', 'app_latency_p99_ms', 'app_memory_bytes'], async () => {
        const r = await appScenario(lab, appKinds, appOpts);
        for (const [k, xs] of r.samples) appSamples.set(k, xs);
        return appMetrics(r.samples, appOpts, {}, `wrk ${wrkVer}`);
      }, appKinds);
    }
    // Disk: the workload's image (the application's when there is one) and its instances.
    const workloadSizes = appProbe ? new Map<Kind, number[]>([...appSamples].map(([k, xs]) => [k as Kind, xs.map((x) => x.diskBytes)])) : probeSizes;
    await attempt('disk space', ['disk_image_bytes', 'disk_rootdisk_bytes', 'disk_instance_bytes'], () => disk(o.engine, workloadImage, usable, workloadSizes));

    // ---- the full-OS VM: the comparison's kind of VM ---------------------------------------
    if (fullOs) {
      const osIds: MetricId[] = ['startup_ready_ms', 'startup_init_ms', 'startup_first_output_ms', 'memory_host_cost_bytes', 'memory_overhead_bytes', 'density_marginal_bytes', 'disk_image_bytes', 'disk_rootdisk_bytes', 'disk_instance_bytes', ...(appProbe ? ['app_ready_ms', 'app_rps', 'app_latency_p50_ms', 'app_latency_p99_ms', 'app_memory_bytes'] as MetricId[] : [])];
      await attempt('full-OS VM', osIds, async () => {
        os = await fullOsImage({ engine: o.engine, image: workloadImage, ...(appProbe ? {} : { argv: ['sleep', '86400'] }), step: (s) => o.progress.step(s), signal: o.signal });
        if (os.osBuildMs) o.progress.note(`built the Debian system once in ${(os.osBuildMs / 1000).toFixed(0)} s (cached in ${path.join(o.engine.config.assets, 'os')})`);
        if (os.diskBuildMs) o.progress.note(`made the full-OS disk for ${workloadImage.ref} in ${(os.diskBuildMs / 1000).toFixed(0)} s (kept as ${os.ref})`);
        const launches: OsLaunch[] = [];
        for (let i = 0; i < p.osRuns; i++) {
          o.progress.step(`full-OS VM: boot ${i + 1}/${p.osRuns} (firmware, bootloader, kernel, systemd, the workload's service${appProbe ? ', its answer and the load' : ''})`);
          launches.push(await osLaunch(lab, { image: os.ref, ...(appProbe ? { app: { probe: appProbe, wrk: wrk ?? 'wrk', load: p.load } } : {}), timeoutMs: readyTimeoutMs('vm-os'), settleMs: o.quick ? 500 : 1500 }));
        }
        const out = osMetrics(launches, { runs: p.osRuns, image: os.ref });
        const first = out.find((m) => m.id === 'startup_first_output_ms');
        if (first) {
          const med = (f: (l: OsLaunch) => number | null) => {
            const v = launches.map(f).filter((x): x is number => x !== null);
            return v.length ? median(v) : undefined;
          };
          first.extra = { firmwareMs: med((l) => l.firmwareMs), kernelMs: med((l) => l.kernelMs), initMs: med((l) => l.initMs), launches: launches.map((l) => ({ readyMs: l.readyMs, firmwareMs: l.firmwareMs, kernelMs: l.kernelMs, initMs: l.initMs, workloadMs: l.workloadMs })) };
        }
        if (appProbe) {
          const samples = new Map<MeasuredKind, AppSample[]>([['vm-os', launches.map((l) => l.app).filter((x): x is AppSample => x !== undefined)]]);
          out.push(...appMetrics(samples, { image: workloadImage.ref, probe: appProbe, load: p.load }, {}, `wrk ${wrkVer}`));
        }
        const osImage = await o.engine.resolveImage(os.ref);
        for (const m of disk(o.engine, osImage, ['vm'], new Map([['vm', launches.map((l) => l.diskBytes)]]))) {
          if (m.id !== 'disk_instance_bytes') out.push(asKind(m, 'vm', 'vm-os'));
        }
        return out;
      }, ['vm-os'], 'vm-os');
      for (const [id, why] of Object.entries(OS_NOT_MEASURED)) mergeMetric(metrics, { id: id as MetricId, unit: '', kinds: {}, notMeasured: { 'vm-os': why } });
      if (!metrics.find((m) => m.id === 'startup_first_output_ms')?.kinds['vm-os']) osFailed.push('the full-OS VM did not boot');
      osContext = {
        os: OS_DESCRIPTION, ...(os?.kernel ? { kernel: os.kernel } : {}), firmware: 'SeaBIOS, syslinux on the disk (q35)', memoryMiB: OS_MEMORY_MIB, image: os?.ref ?? '',
        workload: os ? `a systemd service running ${os.workload.name} from /srv/app (RootDirectory=), uid ${os.workload.uid}` : 'not built',
        network: 'the address isola allocated, passed by QEMU fw_cfg (opt/isola/config) and set by a oneshot unit (isola-net.service) with iproute2',
        osBuildMs: os?.osBuildMs ?? 0, diskBuildMs: os?.diskBuildMs ?? 0, runs: p.osRuns,
      };
    }

    // ---- portability: what each kind ships, moved over loopback ----------------------------
    const portKinds = usable.filter((k) => k === 'container' || k === 'vm');
    if (portKinds.length || os) {
      await attempt('portability', ['portability_artifact_bytes', 'portability_transfer_ms', 'portability_receive_start_ms'], () => portability({
        engine: o.engine, lab, image: workloadImage, kinds: portKinds, ...(os ? { os } : {}), ...(appProbe ? { app: appProbe } : {}),
        transfers: p.transfers, receives: p.receives, osReceives: p.osReceives, step: (s) => o.progress.step(s), readyTimeoutMs,
      }), [...portKinds, ...(os ? ['vm-os' as const] : [])]);
    }
  } finally {
    o.progress.step('cleaning up');
    await lab.cleanupAll();
    (os as FullOsImage | undefined)?.dispose();
    o.progress.done();
  }
  const context = buildContext(appContext?.image ?? image.ref, caps, usable, o.quick, startedAt);
  for (const [k, why] of skipped) context.kinds = { ...context.kinds, [k]: { measured: false, reason: why, ...(k !== 'vm-os' && caps.get(k as Kind) ? { details: caps.get(k as Kind)?.details } : {}) } };
  if (fullOs) {
    context.kinds = { ...context.kinds, 'vm-os': { measured: osFailed.length === 0, ...(osFailed.length ? { reason: osFailed.join('; ') } : {}), details: { machine: 'q35', firmware: 'SeaBIOS', os: OS_DESCRIPTION, memoryMiB: String(OS_MEMORY_MIB) } } };
    if (context.accelerator === 'tcg') context.emulated = true;
  }
  context.runs = p.runs;
  context.warmup = p.warmup;
  context.bootstrapSeed = 1;
  context.probeImage = image.ref;
  context.probesPerKind = PROBES_PER_KIND;
  if (appContext) context.app = appContext;
  if (osContext) context.fullOs = osContext;
  context.durationMs = Date.now() - t0;
  const result = applyVerdicts({ format: COMPARE_FORMAT, version: COMPARE_VERSION, context, metrics });
  result.summary = summarizeResult(result);
  const cost = explainVmCost(result);
  if (cost) result.vmCost = cost;
  return result;
}
