/**
 * `npm run bench`: the performance targets of the container, VM, hybrid and planner (and the
 * hybrid's rows when that kind works here), measured in one run with alternating arms, printed as a table and written as
 * JSON; `--docs` also rewrites docs/BENCHMARKS.md from the figures just measured.
 *
 *   node dist/src/bench/main.js [--runs N] [--json FILE] [--docs] [--no-stability | --only-stability]
 *
 * The stability check runs `isola compare --quick` twice and reports how far the medians moved and
 * the slower wall time against its budget; --only-stability runs nothing else.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Drivers } from '../drivers/registry.js';
import type { Kind } from '../core/types.js';
import { loadConfig, withRoot } from '../core/config.js';
import { run, type RunResult } from '../util/exec.js';
import { alternate } from './alternate.js';
import { renderRows, type BenchRow } from './bench-rows.js';
import { hostFacts } from './context.js';
import { instanceProcesses, pss } from './host-probe.js';
import { median, pairRatios } from './stats.js';
import { benchPlan } from './scenarios/plan.js';
import { compareQuickTwice, keepRuns } from './stability.js';
import type { CompareResult } from '../core/compare-result.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(REPO, 'bin', 'isola.js');

const config = loadConfig();

const sh = (cmd: string, args: string[], env: NodeJS.ProcessEnv = { ...config.env }): Promise<RunResult> => run(cmd, args, { env });

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const VM_LIMIT_S = config.bench.vmLimitS;

/** Runs a command in its own process group; past the limit the whole group is killed. */
const runBounded = (cmd: string, args: string[], env: NodeJS.ProcessEnv, limitMs: number): Promise<RunResult> => run(cmd, args, { env, detached: true, timeoutMs: limitMs });

async function main(): Promise<number> {
  const runs = Number(arg('--runs') ?? 15);
  const jsonOut = arg('--json') ?? path.join(REPO, 'dist', 'bench', 'results.json');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bench-'));
  const env = { ...config.env, ISOLA_ROOT: root };
  const isola = (args: string[]) => sh(process.execPath, [BIN, ...args], env);
  const rows: BenchRow[] = [];
  const raw: Record<string, unknown> = {};
  const t0 = Date.now();
  const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`);
  try {
    if (process.argv.includes('--only-stability')) {
      const s = await compareQuickTwice(isola, root, log, (f) => JSON.parse(fs.readFileSync(f, 'utf8')) as CompareResult);
      rows.push(...s.rows);
      Object.assign(raw, s.raw, { compareQuickJson: keepRuns(root, jsonOut) });
    } else {
    // ---- (a) the container start path: isola run --rm (both networks) vs runc run (floor), podman
    // run --rm (both networks), docker run --rm (private dockerd), isola --version vs node -e 0
    // (src/bench/scenarios/container-start.ts, runnable alone) ---------------------------------
    log('container start: isola run --rm vs runc, podman and docker, alternated');
    try {
      const { benchContainerStart } = await import('./scenarios/container-start.js');
      const r = await benchContainerStart({ runs, log });
      rows.push(...r.rows);
      raw.containerStart = { samples: r.raw, skipped: r.skipped };
    } catch (e) {
      rows.push({ name: '`isola run --rm base true` vs podman, runc and docker', value: null, unit: 'ms', target: '<= podman; <= runc + 60 ms', ok: false, note: `failed: ${(e as Error).message}` });
    }

    // ---- (b) memory of an idle detached container beyond its workload ----------------------
    log('idle container memory');
    const d = await isola(['run', '-d', '--name', 'bench-idle', 'base', 'sleep', '3600']);
    const id = d.stdout.trim();
    await sleep(1500);
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      // Monitor and runtime leftovers: processes naming the instance, not the container's own.
      const procs = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(id); } catch { return false; }
      });
      samples.push(procs.reduce((a, p) => a + pss(Number(p)), 0));
      await sleep(200);
    }
    const tree = instanceProcesses([id]).get(id) ?? [];
    raw.idleContainer = { overheadBytes: samples, processesIncludingWorkload: tree.length };
    await isola(['rm', '-f', 'bench-idle']);
    const mib = median(samples) / 1024 / 1024;
    rows.push({ name: 'idle detached container: monitor + runtime leftovers (PSS)', value: Number(mib.toFixed(2)), unit: 'MiB', target: '<= 3 MiB', ok: mib <= 3, note: 'conmon; runc does not stay' });

    // ---- (c) 50 containers started in parallel ----------------------------------------------
    log('50 containers started at once');
    const tp = performance.now();
    const started = await Promise.all(Array.from({ length: 50 }, (_, i) => isola(['run', '-d', '--name', `bench50-${i}`, 'base', 'sleep', '600'])));
    const wall = performance.now() - tp;
    const failures = started.filter((r) => r.code !== 0);
    const ps = await isola(['ps', '-a', '--json']);
    let list: { id?: string; name?: string; ip?: string | null }[] = [];
    try { list = JSON.parse(ps.stdout) as typeof list; } catch { /* reported below */ }
    const ids = new Set(list.map((x) => x.id));
    const names = new Set(list.map((x) => x.name));
    const ips = new Set(list.map((x) => x.ip).filter(Boolean));
    const okState = failures.length === 0 && list.length === 50 && ids.size === 50 && names.size === 50 && ips.size === 50;
    raw.parallel50 = { wallMs: wall, failures: failures.map((f) => f.stderr.trim()).slice(0, 5), listed: list.length, ids: ids.size, names: names.size, ips: ips.size };
    const rm = await isola(['rm', '-f', ...started.map((r) => r.stdout.trim()).filter(Boolean)]);
    const after = await isola(['ps', '-a', '--json']);
    const left = (JSON.parse(after.stdout || '[]') as unknown[]).length;
    rows.push({ name: '50 `isola run -d` at once: all succeed, 50 distinct ids/names/IPs', value: 50 - failures.length, unit: 'ok', target: '50, state intact', ok: okState && rm.code === 0 && left === 0, note: `${(wall / 1000).toFixed(1)} s wall; ps -a listed ${list.length}, ${ids.size} ids, ${names.size} names, ${ips.size} IPs; ${left} left after rm` });

    // ---- (d) VM rows (src/bench/scenarios/vm.ts) ---------------------------------------------
    // benchVm() runs in a child process of its own process group, so that a hung guest can be
    // ended with every QEMU it started, and cannot hang or outlive the bench.
    const vmFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios', 'vm.js');
    if (fs.existsSync(vmFile)) {
      log(`VM rows (benchVm, at most ${VM_LIMIT_S} s)`);
      const r = await runBounded(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(`file://${vmFile}`)}); process.stdout.write(JSON.stringify(await m.benchVm()));`], { ...env }, VM_LIMIT_S * 1000);
      try {
        rows.push(...(JSON.parse(r.stdout) as BenchRow[]));
      } catch {
        rows.push({ name: 'VM rows (benchVm)', value: null, unit: '', target: '<= +20 % vs bare QEMU; <= 40 MiB', ok: false, note: r.timedOut ? `benchVm did not finish within ${VM_LIMIT_S} s (ended with its QEMU processes)` : `benchVm failed: ${r.stderr.trim().split('\n').pop() ?? ''}` });
      }
    } else rows.push({ name: 'VM: time to exit / first output vs bare QEMU; VMM overhead', value: null, unit: '', target: '<= +20 %; <= 40 MiB', ok: null, note: 'src/bench/scenarios/vm.ts is not in this build yet' });

    // ---- (d2) guest kernel rows (src/bench/scenarios/guest-kernel.ts) -------------------------
    // isola's own kernel against Debian's cloud kernel (vm, first output, hybrid, idle RSS), in a
    // bounded child like benchVm.
    const kernelFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios', 'guest-kernel.js');
    log(`guest kernel rows (benchGuestKernel, at most ${VM_LIMIT_S} s)`);
    const kr = await runBounded(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(`file://${kernelFile}`)}); process.stdout.write(JSON.stringify(await m.benchGuestKernel()));`], { ...env }, VM_LIMIT_S * 1000);
    try {
      rows.push(...(JSON.parse(kr.stdout) as BenchRow[]));
    } catch {
      rows.push({ name: 'guest kernel rows (benchGuestKernel)', value: null, unit: '', target: 'vm <= 1.0 s; first output <= 0.6 s; hybrid <= 1.5 x vm; idle RSS <= 100 MiB', ok: false, note: kr.timedOut ? `benchGuestKernel did not finish within ${VM_LIMIT_S} s (ended with its QEMU processes)` : `benchGuestKernel failed: ${kr.stderr.trim().split('\n').pop() ?? ''}` });
    }

    // ---- (e) plan on 10,000 workloads ---------------------------------------------------------
    log('isola plan on 10,000 workloads');
    for (const r of await benchPlan()) rows.push({ name: r.name, value: r.value, unit: r.unit, target: r.target, ok: r.ok });

    // ---- (f) hybrid: the same run --rm as container, vm and hybrid ---------------------------
    const drivers = new Drivers(withRoot(config, root));
    let hybridOk = false;
    try {
      hybridOk = (await drivers.get('hybrid').probe()).ok;
    } catch {
      hybridOk = false;
    }
    if (hybridOk) {
      log('hybrid vs vm vs container: run --rm base true');
      const kinds: Kind[] = ['container', 'vm', 'hybrid'];
      const hr = await alternate(kinds.map((k) => ({ name: k, run: async () => { const r = await isola(['run', '--rm', '--as', k, 'base', 'true']); if (r.code !== 0) throw new Error(`${k}: ${r.stderr.trim()}`); return r.ms; } })), { warmup: 1, runs: 5 });
      const accel = (await drivers.get('vm').probe()).details.accelerator ?? '?';
      raw.hybrid = Object.fromEntries(hr);
      for (const k of kinds) rows.push({ name: `\`isola run --rm --as ${k} base true\` (${k === 'container' ? 'no accelerator' : accel === 'tcg' ? 'TCG, emulated' : accel})`, value: Math.round(median(hr.get(k) ?? [])), unit: 'ms', target: '-', ok: null, ...(k === 'hybrid' ? { ratio: `hybrid/vm ${median(pairRatios(hr.get('hybrid') ?? [], hr.get('vm') ?? [])).toFixed(2)}` } : {}) });
    } else rows.push({ name: 'hybrid rows', value: null, unit: '', target: '-', ok: null, note: 'the hybrid kind is not available here' });

    // ---- (f2) machines: 1st, 2nd, 10th container in one machine vs hybrids vs containers ----
    // In a bounded child of its own, like benchVm: a hung guest ends with its QEMU processes.
    if (hybridOk) {
      const machineFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios', 'machine.js');
      log(`machine rows (benchMachine, at most ${VM_LIMIT_S * 2} s)`);
      const mr = await runBounded(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(`file://${machineFile}`)}); process.stdout.write(JSON.stringify(await m.benchMachine()));`], { ...env }, VM_LIMIT_S * 2000);
      try {
        rows.push(...(JSON.parse(mr.stdout) as BenchRow[]));
      } catch {
        rows.push({ name: 'machine rows (benchMachine)', value: null, unit: '', target: '-', ok: false, note: mr.timedOut ? `benchMachine did not finish within ${VM_LIMIT_S * 2} s` : `benchMachine failed: ${mr.stderr.trim().split('\n').pop() ?? ''}` });
      }
    }

    // ---- (f3) density: 500 idle containers and 60 idle 64 MiB VMs, measured ----------------
    // In a bounded child like benchVm: a hung start ends with every process it started.
    if (!process.argv.includes('--no-density')) {
      const densityFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios', 'density-max.js');
      log(`density: 500 idle containers, 60 idle 64 MiB VMs (at most ${VM_LIMIT_S * 4} s)`);
      const dr = await runBounded(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(`file://${densityFile}`)}); process.stdout.write(JSON.stringify(m.densityRows(await m.measureDensity(500, 60))));`], { ...env }, VM_LIMIT_S * 4000);
      try {
        rows.push(...(JSON.parse(dr.stdout) as BenchRow[]));
      } catch {
        rows.push({ name: 'density rows (measureDensity)', value: null, unit: '', target: '>= 500 containers, >= 60 VMs', ok: false, note: dr.timedOut ? `measureDensity did not finish within ${VM_LIMIT_S * 4} s` : `measureDensity failed: ${dr.stderr.trim().split('\n').pop() ?? ''}` });
      }
    }

    // ---- (g) images in and out: push and pull against skopeo, build against buildah -------
    log('images: push/pull vs skopeo copy, build vs buildah bud');
    try {
      const { benchImages } = await import('./scenarios/images.js');
      rows.push(...await benchImages({
        isola: (args, r, extra = {}) => run(process.execPath, [BIN, ...args], { env: { ...config.env, ISOLA_ROOT: r, ...extra } }),
        runs: Math.min(runs, 5),
        log,
      }));
    } catch (e) {
      rows.push({ name: 'images: push/pull vs skopeo, build vs buildah', value: null, unit: '', target: '<= 1.2 x skopeo; rebuild < 1 s', ok: false, note: `failed: ${(e as Error).message}` });
    }

    // ---- (h) stability: isola compare --quick twice, how far the medians moved, its wall time ----
    if (!process.argv.includes('--no-stability')) {
      const s = await compareQuickTwice(isola, root, log, (f) => JSON.parse(fs.readFileSync(f, 'utf8')) as CompareResult);
      rows.push(...s.rows);
      Object.assign(raw, s.raw, { compareQuickJson: keepRuns(root, jsonOut) });
    }
    // ---- (i) isola serve under load: 200 running, docker ps p99, 50 concurrent cycles, vs dockerd
    try {
      const { benchApiLoad } = await import('./scenarios/api-load.js');
      const r = await benchApiLoad({ runs: Math.max(runs, 100), log });
      rows.push(...r.rows);
      raw.apiLoad = r.raw;
    } catch (e) {
      rows.push({ name: '`docker ps` through isola serve with 200 running, p99', value: null, unit: 'ms', target: '< 50 ms', ok: false, note: `failed: ${(e as Error).message}` });
    }
    } // end of the sections --only-stability skips
  } finally {
    await isola(['rm', '-f', ...(await isola(['ps', '-a', '-q'])).stdout.split('\n').filter(Boolean)]).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }

  const h = hostFacts();
  const out = { command: `node dist/src/bench/main.js ${process.argv.slice(2).join(' ')}`.trim(), at: new Date().toISOString(), host: h, runs, rows, raw, durationMs: Date.now() - t0 };
  fs.mkdirSync(path.dirname(jsonOut), { recursive: true });
  fs.writeFileSync(jsonOut, `${JSON.stringify(out, null, 2)}\n`);
  const table = renderRows(rows);
  process.stdout.write(`isola bench on ${h.cpu}, ${h.cores} cores, ${h.kernel}${h.virtualized ? ' (itself a VM)' : ''}; ${runs} counted rounds per A/B\n\n${table}\nJSON: ${jsonOut}\n`);
  if (process.argv.includes('--docs')) {
    const { writeBenchmarksDoc } = await import('./bench-doc.js');
    writeBenchmarksDoc(path.join(REPO, 'docs', 'BENCHMARKS.md'), out, table);
    process.stdout.write('wrote docs/BENCHMARKS.md\n');
  }
  return rows.some((r) => r.ok === false) ? 1 : 0;
}

main().then((code) => process.exit(code), (e: Error) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exit(2);
});
