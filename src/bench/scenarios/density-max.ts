/**
 * Density measured, not computed: start idle instances of one kind (`isola run -d ... sleep`)
 * until a count is reached or the host's available memory falls to a floor, then report how many
 * ran, how fast they started (instances per second over the whole ramp, the CLI's own start
 * included) and what each cost the host: the drop of MemAvailable per instance (kernel-side
 * memory included: page tables, namespaces, cgroups, a VM's guest RAM as it is touched) and the
 * PSS of each instance's host processes (conmon and the workload; a VM's QEMU and helpers).
 * Everything is removed afterwards, and the removal is timed too.
 *
 *   flock /tmp/isola-integration.lock node dist/src/bench/scenarios/density-max.js [CONTAINERS] [VMS]
 *
 * `npm run bench` runs it with 500 containers and 60 VMs of 64 MiB (its density rows).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../core/config.js';
import { run } from '../../util/exec.js';
import { footprints, meminfo } from '../host-probe.js';
import { median } from '../stats.js';
import type { BenchRow } from '../bench-rows.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin/isola.js');
const MiB = 1024 * 1024;
/** Starting stops before MemAvailable falls under this: the host must stay usable. */
const FLOOR_BYTES = 3 * 1024 * MiB;

export interface DensityRamp {
  kind: 'container' | 'vm';
  wanted: number;
  started: number;
  /** Why the ramp stopped before `wanted`, if it did. */
  stoppedBecause?: string;
  rampMs: number;
  removeMs: number;
  availableDropBytes: number;
  pssBytes: number[];
  accelerator?: string;
}

interface Options {
  kind: 'container' | 'vm';
  count: number;
  /** CLI processes at once: more only queues on 2 cores. */
  parallel: number;
  runArgs: string[];
}

async function ramp(o: Options, env: NodeJS.ProcessEnv): Promise<DensityRamp> {
  const ids: string[] = [];
  const before = meminfo().availableBytes;
  const t0 = performance.now();
  let stoppedBecause: string | undefined;
  try {
    while (ids.length < o.count && stoppedBecause === undefined) {
      if (meminfo().availableBytes < FLOOR_BYTES) {
        stoppedBecause = `the host's available memory fell under ${FLOOR_BYTES / 1024 / MiB} GiB`;
        break;
      }
      const n = Math.min(o.parallel, o.count - ids.length);
      const rs = await Promise.all(Array.from({ length: n }, () => run(process.execPath, ['--', BIN, 'run', '-d', ...o.runArgs, 'base', 'sleep', '86400'], { env, timeoutMs: 120_000 })));
      for (const r of rs) {
        // Every start is checked: a failed start is not a fast one.
        if (r.code === 0 && /^[0-9a-f]{64}$/.test(r.stdout.trim())) ids.push(r.stdout.trim());
        else stoppedBecause ??= `a start failed (${r.code}): ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`;
      }
    }
    const rampMs = performance.now() - t0;
    await sleep(2000); // let the last ones settle to idle
    const availableDropBytes = before - meminfo().availableBytes;
    const pssBytes = [...footprints(ids).values()];
    const t1 = performance.now();
    await removeAll(ids, env);
    const removeMs = performance.now() - t1;
    ids.length = 0;
    return { kind: o.kind, wanted: o.count, started: pssBytes.length, ...(stoppedBecause ? { stoppedBecause } : {}), rampMs, removeMs, availableDropBytes, pssBytes };
  } finally {
    if (ids.length) await removeAll(ids, env).catch(() => undefined);
  }
}

/**
 * `rm -f` in batches (one CLI process per 50 ids), two batches at once; then whatever is still
 * listed once more, one call, and an error if anything of ours is left.
 */
async function removeAll(ids: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += 50) batches.push(ids.slice(i, i + 50));
  for (let i = 0; i < batches.length; i += 2) {
    await Promise.all(batches.slice(i, i + 2).map((b) => run(process.execPath, ['--', BIN, 'rm', '-f', ...b], { env, timeoutMs: 600_000 })));
  }
  const listed = async () => {
    const ps = await run(process.execPath, ['--', BIN, 'ps', '-a', '-q'], { env });
    const short = new Set(ps.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
    return ids.filter((id) => short.has(id.slice(0, 12)));
  };
  const left = await listed();
  if (left.length === 0) return;
  const again = await run(process.execPath, ['--', BIN, 'rm', '-f', ...left], { env, timeoutMs: 600_000 });
  if ((await listed()).length > 0) throw new Error(`isola rm -f left ${left.length} instance(s): ${again.stderr.trim().split('\n').pop() ?? ''}`);
}

export async function measureDensity(containers: number, vms: number): Promise<DensityRamp[]> {
  const env = { ...loadConfig().env };
  const must = async (args: string[]) => {
    const r = await run(process.execPath, ['--', BIN, ...args], { env, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`isola ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  await must(['run', '--rm', 'base', 'true']); // the base image unpacked once, outside the ramp
  const out: DensityRamp[] = [];
  if (containers > 0) out.push(await ramp({ kind: 'container', count: containers, parallel: 4, runArgs: [] }, env));
  if (vms > 0) {
    const host = JSON.parse(await must(['host', '--json'])) as { kinds?: { kind: string; details?: { accelerator?: string } }[] };
    const r = await ramp({ kind: 'vm', count: vms, parallel: 2, runArgs: ['--as', 'vm', '-m', '64m'] }, env);
    const accelerator = host.kinds?.find((k) => k.kind === 'vm')?.details?.accelerator;
    out.push(accelerator ? { ...r, accelerator } : r);
  }
  return out;
}

export function densityRows(ramps: DensityRamp[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const r of ramps) {
    const what = r.kind === 'container' ? 'idle containers' : `idle 64 MiB VMs (${r.accelerator === 'tcg' ? 'TCG, emulated' : r.accelerator ?? 'accelerator unknown'})`;
    const n = Math.max(1, r.started);
    rows.push({ name: `density: ${what} running at once`, value: r.started, unit: 'instances', target: `>= ${r.wanted}`, ok: r.started >= r.wanted, ...(r.stoppedBecause ? { note: `stopped: ${r.stoppedBecause}` } : {}) });
    rows.push({ name: `density: start rate of ${what} (run -d, ${r.kind === 'container' ? 4 : 2} at a time)`, value: Number((r.started / (r.rampMs / 1000)).toFixed(2)), unit: '/s', target: '-', ok: null, note: `${r.started} in ${(r.rampMs / 1000).toFixed(1)} s` });
    rows.push({ name: `density: host memory per ${r.kind} (MemAvailable drop / N)`, value: Number((r.availableDropBytes / n / MiB).toFixed(2)), unit: 'MiB', target: '-', ok: null, note: 'kernel-side memory included' });
    rows.push({ name: `density: host PSS per ${r.kind} (median of N)`, value: Number((median(r.pssBytes) / MiB).toFixed(2)), unit: 'MiB', target: '-', ok: null, note: r.kind === 'container' ? 'conmon and the workload' : 'QEMU, its jail and helpers' });
    rows.push({ name: `density: removing all ${r.started} ${r.kind}s (rm -f, 50 per call)`, value: Number((r.removeMs / 1000).toFixed(1)), unit: 's', target: '-', ok: null });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ramps = await measureDensity(Number(process.argv[2] ?? 500), Number(process.argv[3] ?? 60));
  process.stdout.write(`${JSON.stringify({ ramps: ramps.map((r) => ({ ...r, pssBytes: undefined, pssMedianBytes: median(r.pssBytes) })), rows: densityRows(ramps) }, null, 1)}\n`);
}
