import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { alternate } from '../alternate.js';
import { median } from '../stats.js';
import { guestBoot, readGuestAssets } from '../../guest/assets.js';
import { loadConfig } from '../../core/config.js';
import { timed as timedRun, writeEchoInitrd, type Timed } from './timed-run.js';
import { runOk } from '../../util/exec.js';
import { bareQemuArgs, type VmBenchResult } from './vm.js';

/**
 * isola's own guest kernel against Debian's cloud kernel, in one run, arms alternated (A B C ...
 * per round, medians), every exit status checked (a failed run fails the row):
 *  - `isola run --rm --as vm base true` on each kernel (the default network, as a user runs it);
 *  - `isola run --rm --as vm base echo MARK` on each kernel: the time to the workload's first
 *    output on the client's stdout;
 *  - a bare QEMU boot of Debian's cloud kernel (the same command line as vm.ts's floor, the
 *    workload `echo MARK`): the issue's reference for isola's VM figure;
 *  - `isola run --rm --as hybrid base true` on each kernel (crun in the guest, the default), and
 *    with `--runtime runc` on isola's;
 *  - the idle QEMU's resident memory (VmRSS) of a 64 MiB guest on isola's kernel, and on the
 *    cloud kernel at the smallest memory it boots with (96 MiB), split into the guest's RAM, the
 *    VMM's own anonymous memory and file pages (residentSplit).
 */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = path.join(REPO, 'bin', 'isola.js');
const MARK = 'isola-kernel-bench-output';
/** Times a command against this scenario's mark. */
const timed = (cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> => timedRun(cmd, args, env, MARK);

function residentMiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * QEMU's resident memory split in three (MiB): the guest's RAM (the anonymous mapping of exactly
 * the guest's size, whatever pages the guest touched), the rest of QEMU's anonymous memory (its
 * own: TCG's translation cache, heaps, device state: the VMM's overhead), and file pages (QEMU's
 * binary and libraries, the kernel file it keeps mapped: shared with every other VM).
 */
export function residentSplit(smaps: string, guestMiB: number): { guest: number; vmmAnon: number; file: number } {
  let guest = 0;
  let vmmAnon = 0;
  let file = 0;
  let size = 0;
  let named = false;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      size = (parseInt(head[2] ?? '0', 16) - parseInt(head[1] ?? '0', 16)) / (1024 * 1024);
      named = head[3] !== '0' && (head[4] ?? '') !== '';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const mib = Number(rss[1]) / 1024;
    if (named) file += mib;
    else if (size === guestMiB && guest === 0) guest = mib;
    else vmmAnon += mib;
  }
  return { guest, vmmAnon, file };
}

const round = (x: number): number => Math.round(x * 10) / 10;

export async function benchGuestKernel(opts: { runs?: number; warmup?: number; log?: (m: string) => void } = {}): Promise<VmBenchResult[]> {
  const config = loadConfig();
  const runs = opts.runs ?? 6;
  const warmup = opts.warmup ?? 1;
  const log = opts.log ?? (() => undefined);
  const assets = readGuestAssets(config.assets);
  if (!assets?.isolaKernel) return [{ name: 'guest kernel', value: NaN, unit: 'ms', target: '-', ok: false, note: 'isola\'s guest kernel is not built: run npm run bootstrap' }];
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bench-kernel-'));
  const base = { ...config.env, ISOLA_ROOT: root };
  const envOf = (k: 'isola' | 'cloud') => ({ ...base, ISOLA_VM_KERNEL: k });
  const cli = (args: string[], env: NodeJS.ProcessEnv) => timed(process.execPath, [BIN, ...args], env);
  const out: VmBenchResult[] = [];
  try {
    log('warm-up: base image, its root disks (vm, hybrid)');
    for (const kind of ['vm', 'hybrid']) {
      const w = await cli(['run', '--rm', '--as', kind, 'base', 'true'], envOf('isola'));
      if (w.code !== 0) return [{ name: 'guest kernel', value: NaN, unit: 'ms', target: '-', ok: false, note: `isola run --as ${kind} failed (${w.code}): ${w.stderr.trim()}` }];
    }
    // The VM's facts (accelerator, disk) for the bare launch of the cloud kernel.
    const idle = await cli(['run', '-d', '--as', 'vm', '--network', 'none', '--name', 'kb-facts', 'base', 'sleep', '600'], envOf('cloud'));
    if (idle.code !== 0) return [{ name: 'guest kernel', value: NaN, unit: 'ms', target: '-', ok: false, note: `isola run -d --as vm failed: ${idle.stderr.trim()}` }];
    const ins = (JSON.parse(await runOk(process.execPath, [BIN, 'inspect', 'kb-facts'], { env: base })) as { Driver: Parameters<typeof bareQemuArgs>[0] & { acceleratorReason: string } }[])[0];
    await cli(['rm', '-f', 'kb-facts'], base);
    if (!ins) throw new Error('inspect returned nothing');
    const facts = ins.Driver;
    const cloud = guestBoot(assets, 'cloud');
    const initrd = path.join(root, 'bare-initrd.cpio');
    writeEchoInitrd(cloud.initramfs, initrd, MARK);
    const bare = bareQemuArgs(facts, cloud.kernel, initrd, 'cloud');
    const qemu = config.bin.qemu ?? 'qemu-system-x86_64';
    const accel = facts.accelerator === 'tcg' ? 'TCG (emulated; KVM not usable here)' : 'KVM';

    const arms = [
      { name: 'vm true, isola kernel', run: () => cli(['run', '--rm', '--as', 'vm', 'base', 'true'], envOf('isola')) },
      { name: 'vm true, cloud kernel', run: () => cli(['run', '--rm', '--as', 'vm', 'base', 'true'], envOf('cloud')) },
      { name: 'vm echo, isola kernel', run: () => cli(['run', '--rm', '--as', 'vm', 'base', 'echo', MARK], envOf('isola')) },
      { name: 'vm echo, cloud kernel', run: () => cli(['run', '--rm', '--as', 'vm', 'base', 'echo', MARK], envOf('cloud')) },
      { name: 'bare QEMU, cloud kernel', run: () => timed(qemu, bare, base) },
      { name: 'hybrid true, isola kernel', run: () => cli(['run', '--rm', '--as', 'hybrid', 'base', 'true'], envOf('isola')) },
      { name: 'hybrid true, cloud kernel', run: () => cli(['run', '--rm', '--as', 'hybrid', 'base', 'true'], envOf('cloud')) },
      { name: 'hybrid runc true, isola kernel', run: () => cli(['run', '--rm', '--as', 'hybrid', '--runtime', 'runc', 'base', 'true'], envOf('isola')) },
    ];
    log(`${arms.length} arms alternated, ${warmup} warm-up + ${runs} rounds`);
    const res = await alternate<Timed>(arms, { warmup, runs, onRound: (d, t) => log(`round ${d}/${t}`) });
    const ctx = `${accel}; medians of ${runs} alternated rounds (${arms.length} arms), after ${warmup} warm-up`;
    const failedOf = (name: string) => (res.get(name) ?? []).filter((r) => r.code !== 0 || (name.includes('echo') || name.startsWith('bare') ? r.firstOutputMs === null : false));
    const row = (name: string, arm: string, pick: (r: Timed) => number, target: string, ok: (v: number) => boolean | null, note = ctx): void => {
      const rs = res.get(arm) ?? [];
      const failed = failedOf(arm);
      const v = median(rs.map(pick));
      out.push({ name, value: round(v), unit: 'ms', target, ok: failed.length ? false : (ok(v) ?? true), note: failed.length ? `${failed.length} run(s) failed: exit ${failed[0]?.code}: ${failed[0]?.stderr.trim().slice(0, 160)}` : note });
    };
    const bareExit = median((res.get('bare QEMU, cloud kernel') ?? []).map((r) => r.exitMs));
    const vmIsola = median((res.get('vm true, isola kernel') ?? []).map((r) => r.exitMs));
    row('`isola run --rm --as vm base true`, isola kernel', 'vm true, isola kernel', (r) => r.exitMs, '<= 1000 ms and <= 0.6 x bare cloud boot', (v) => v <= 1000 && v <= 0.6 * bareExit, `${ctx}; ${(vmIsola / bareExit).toFixed(2)} x the bare cloud-kernel boot`);
    row('`isola run --rm --as vm base true`, cloud kernel', 'vm true, cloud kernel', (r) => r.exitMs, 'compare arm', () => null);
    row('bare QEMU boot of the cloud kernel to exit (echo)', 'bare QEMU, cloud kernel', (r) => r.exitMs, 'reference', () => null, `${ctx}; ${qemu} ${bare.join(' ')}`);
    row('`isola run --rm --as vm base echo`: first output, isola kernel', 'vm echo, isola kernel', (r) => r.firstOutputMs ?? NaN, '<= 600 ms', (v) => v <= 600);
    row('`isola run --rm --as vm base echo`: first output, cloud kernel', 'vm echo, cloud kernel', (r) => r.firstOutputMs ?? NaN, 'compare arm', () => null);
    const hyIsola = median((res.get('hybrid true, isola kernel') ?? []).map((r) => r.exitMs));
    row('`isola run --rm --as hybrid base true` (crun in the guest), isola kernel', 'hybrid true, isola kernel', (r) => r.exitMs, '<= 1.5 x the VM figure', () => hyIsola <= 1.5 * vmIsola, `${ctx}; ${(hyIsola / vmIsola).toFixed(2)} x the VM figure on the same kernel`);
    row('`isola run --rm --as hybrid base true`, cloud kernel', 'hybrid true, cloud kernel', (r) => r.exitMs, 'compare arm', () => null);
    const hyRunc = median((res.get('hybrid runc true, isola kernel') ?? []).map((r) => r.exitMs));
    row('`isola run --rm --as hybrid --runtime runc base true`, isola kernel', 'hybrid runc true, isola kernel', (r) => r.exitMs, 'compare arm (runc in the guest)', () => null, `${ctx}; ${(hyRunc / vmIsola).toFixed(2)} x the VM figure on the same kernel`);

    // Idle memory: one VM per kernel, QEMU's VmRSS sampled after it settled.
    for (const [k, mem] of [['isola', 64], ['cloud', 96]] as const) {
      const name = `kb-idle-${k}`;
      const r = await cli(['run', '-d', '--as', 'vm', '-m', `${mem}m`, '--name', name, 'base', 'sleep', '600'], envOf(k));
      if (r.code !== 0) {
        out.push({ name: `idle QEMU RSS, ${mem} MiB guest, ${k} kernel`, value: NaN, unit: 'MiB', target: k === 'isola' ? '<= 100 MiB' : 'compare arm', ok: false, note: `run -d failed (${r.code}): ${r.stderr.trim()}` });
        continue;
      }
      try {
        const doc = (JSON.parse(await runOk(process.execPath, [BIN, 'inspect', name], { env: base })) as { State: { Pid: number } }[])[0];
        await sleep(4000);
        const samples: number[] = [];
        for (let i = 0; i < 5; i++) {
          const v = doc ? residentMiB(doc.State.Pid) : null;
          if (v !== null) samples.push(v);
          await sleep(500);
        }
        const v = samples.length ? median(samples) : NaN;
        let split = '';
        try {
          const sp = residentSplit(fs.readFileSync(`/proc/${doc?.State.Pid}/smaps`, 'utf8'), mem);
          split = `; of it: guest RAM touched ${round(sp.guest)} MiB, the VMM's own anonymous memory ${round(sp.vmmAnon)} MiB (TCG's translation cache among it), file pages ${round(sp.file)} MiB (QEMU, its libraries, the kernel file; shared between VMs)`;
        } catch {
          split = '';
        }
        out.push({ name: `idle QEMU RSS, ${mem} MiB guest, ${k} kernel`, value: round(v), unit: 'MiB', target: k === 'isola' ? '<= 100 MiB' : 'compare arm', ok: k === 'isola' ? v <= 100 : Number.isFinite(v), note: `${accel}; VmRSS of the jailed QEMU 4 s after start, median of 5 samples${split}${k === 'cloud' ? '; the cloud kernel does not boot in 64 MiB (96 MiB is its minimum here)' : ''}` });
      } finally {
        await cli(['rm', '-f', name], base);
      }
    }
    return out;
  } finally {
    await timed(process.execPath, [BIN, 'rm', '-f', 'kb-facts', 'kb-idle-isola', 'kb-idle-cloud'], base).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 6);
  const rows = await benchGuestKernel({ runs, log: (m) => process.stderr.write(`kernel bench: ${m}\n`) });
  for (const r of rows) process.stdout.write(`${r.ok ? 'met ' : r.ok === false ? 'NOT ' : '    '} ${r.name}: ${r.value} ${r.unit} (target ${r.target})${r.note ? `\n       ${r.note}` : ''}\n`);
  process.stdout.write(JSON.stringify(rows) + '\n');
}
