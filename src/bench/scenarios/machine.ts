/**
 * Machines against one VM per container and plain containers: host memory and start time of the
 * 1st, 2nd and 10th container placed in one machine (`run -d --machine`), against as many
 * one-container VMs (`run -d --as hybrid`) and plain containers (`run -d`), all running
 * `sleep`, measured on this host. Memory is the PSS of every host process of the group (the
 * machine's QEMU and virtiofsd, each hybrid's QEMU, each container's conmon and workload);
 * start time is the wall time of `isola run -d` (it returns once the workload runs).
 *
 *   node --input-type=module -e "const m = await import('./dist/src/bench/scenarios/machine.js'); console.log(JSON.stringify(await m.benchMachine(), null, 1))"
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../core/config.js';
import { run } from '../../util/exec.js';
import { instanceProcesses, pss } from '../host-probe.js';
import type { BenchRow } from '../bench-rows.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin/isola.js');
const COUNTS = [1, 2, 10] as const;
const MiB = 1024 * 1024;

export interface GroupFigures {
  /** Wall time of `run -d` of the Nth instance, ms, N = 1..10. */
  startMs: number[];
  /** Host PSS of the whole group with N instances running, bytes, N = 1..10. */
  memoryBytes: number[];
}

export async function benchMachine(): Promise<BenchRow[]> {
  const config = loadConfig();
  const env = { ...config.env };
  const isola = async (args: string[]) => {
    const t0 = performance.now();
    const r = await run(process.execPath, ['--', BIN, ...args], { env });
    if (r.code !== 0) throw new Error(`isola ${args.join(' ')}: ${r.stderr.trim()}`);
    return { ms: performance.now() - t0, out: r.stdout.trim() };
  };
  const groupPss = (needles: string[]) => {
    let sum = 0;
    const seen = new Set<number>();
    for (const pids of instanceProcesses(needles).values()) for (const p of pids) if (!seen.has(p)) { seen.add(p); sum += pss(p); }
    return sum;
  };
  const settle = () => new Promise((r) => setTimeout(r, 1500));
  const name = `bench-m${process.pid}`;
  const made: string[] = [];
  const figures: Record<string, GroupFigures> = {};
  let machineCreateMs: number;
  let machineIdleBytes: number;
  try {
    await isola(['run', '--rm', 'base', 'true']); // the base image, unpacked once
    machineCreateMs = (await isola(['machine', 'create', name, '-m', '768m', '--cpus', '1'])).ms;
    const m = JSON.parse((await isola(['machine', 'inspect', '--json', name])).out) as { id: string }[];
    const mid = m[0]?.id ?? '';
    const needles = [mid, path.join(config.root, 'run', 'm', mid.slice(0, 12))];
    await settle();
    machineIdleBytes = groupPss(needles);
    const groups: { key: string; args: string[]; needles: (ids: string[]) => string[] }[] = [
      { key: 'machine', args: ['--machine', name], needles: () => needles },
      { key: 'hybrid', args: ['--as', 'hybrid'], needles: (ids) => ids },
      { key: 'container', args: [], needles: (ids) => ids },
    ];
    for (const g of groups) {
      const f: GroupFigures = { startMs: [], memoryBytes: [] };
      const ids: string[] = [];
      for (let i = 1; i <= 10; i++) {
        const r = await isola(['run', '-d', ...g.args, 'base', 'sleep', '3600']);
        ids.push(r.out);
        made.push(r.out);
        f.startMs.push(r.ms);
        if ((COUNTS as readonly number[]).includes(i)) {
          await settle();
          f.memoryBytes.push(groupPss(g.needles(ids)));
        }
      }
      figures[g.key] = f;
      await isola(['rm', '-f', ...ids]);
      made.length = 0;
    }
  } finally {
    if (made.length) await run(process.execPath, ['--', BIN, 'rm', '-f', ...made], { env }).catch(() => undefined);
    await run(process.execPath, ['--', BIN, 'machine', 'rm', '-f', name], { env }).catch(() => undefined);
  }
  const rows: BenchRow[] = [
    { name: 'machine create (boot included), 768 MiB, 1 vCPU', value: Math.round(machineCreateMs), unit: 'ms', target: '-', ok: null },
    { name: 'idle machine, host PSS (QEMU + image share)', value: Math.round(machineIdleBytes / MiB), unit: 'MiB', target: '-', ok: null },
  ];
  for (const [key, f] of Object.entries(figures)) {
    COUNTS.forEach((n, j) => {
      rows.push({ name: `${key}: start of the ${n === 1 ? '1st' : n === 2 ? '2nd' : `${n}th`} (run -d)`, value: Math.round(f.startMs[n - 1] ?? 0), unit: 'ms', target: '-', ok: null });
      rows.push({ name: `${key}: host PSS with ${n} running${key === 'machine' ? ' (machine included)' : ''}`, value: Math.round((f.memoryBytes[j] ?? 0) / MiB), unit: 'MiB', target: '-', ok: null });
    });
  }
  return rows;
}
