import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alternate } from '../alternate.js';
import { median } from '../stats.js';
import { guestBoot, readGuestAssets } from '../../guest/assets.js';
import { loadConfig } from '../../core/config.js';
import { timed as timedRun, writeEchoInitrd, type Timed } from './timed-run.js';
import { kernelCmdline, tscKhzFromCpuinfo } from '../../guest/cmdline.js';
import { runOk } from '../../util/exec.js';

/**
 * The VM driver's own costs, measured in one run:
 *  - `isola run --rm --as vm base echo MARK` to the first output and to exit, against a bare
 *    QEMU command line booting the same kernel, initramfs, root disk and guest config (the
 *    floor), alternated A B A B and compared by medians;
 *  - the VMM memory overhead of an idle VM: QEMU's resident memory minus the guest RAM it maps
 *    (Firecracker's memory-overhead method), as `isola stats` reports it.
 * Every figure names its accelerator: under TCG the guest is emulated and its times are not
 * comparable with KVM figures.
 */
export interface VmBenchResult {
  name: string;
  value: number;
  unit: string;
  target: string;
  ok: boolean;
  note?: string;
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = path.join(REPO, 'bin', 'isola.js');
const MARK = 'isola-vm-bench-output';
/** Times a command against this scenario's mark. */
const timed = (cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> => timedRun(cmd, args, env, MARK);

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return timed(process.execPath, [BIN, ...args], env);
}

interface VmFacts {
  accelerator: 'kvm' | 'tcg';
  acceleratorReason: string;
  cpu: string;
  memoryMiB: number;
  kernel: string;
  baseDisk: string;
}

export async function benchVm(opts: { runs?: number; warmup?: number } = {}): Promise<VmBenchResult[]> {
  const config = loadConfig();
  const runs = opts.runs ?? 7;
  const warmup = opts.warmup ?? 1;
  const assets = readGuestAssets(config.assets);
  if (!assets) return [{ name: 'vm startup', value: NaN, unit: 'ms', target: '-', ok: false, note: 'guest assets not set up: run npm run bootstrap' }];
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bench-vm-'));
  const env = { ...config.env, ISOLA_ROOT: root };
  try {
    // Warm-up that also builds the base image and its root disk, so neither is timed.
    const warm = await cli(['run', '--rm', '--as', 'vm', '--network', 'none', 'base', 'true'], env);
    if (warm.code !== 0) return [{ name: 'vm startup', value: NaN, unit: 'ms', target: '-', ok: false, note: `isola run --as vm failed: ${warm.stderr.trim()}` }];

    // One idle VM: its facts (accelerator, disk) for the bare launch, and its memory overhead.
    const idle = await cli(['run', '-d', '--as', 'vm', '--name', 'bench-idle', 'base', 'sleep', '3600'], env);
    if (idle.code !== 0) return [{ name: 'vm idle', value: NaN, unit: 'MiB', target: '-', ok: false, note: idle.stderr.trim() }];
    let facts: VmFacts;
    const overheads: number[] = [];
    let rss: number | null = null;
    try {
      const doc = await capture(['inspect', 'bench-idle'], env);
      const ins = (JSON.parse(doc) as { Driver: VmFacts; State: { Pid: number } }[])[0];
      if (!ins) throw new Error('inspect returned nothing');
      facts = ins.Driver;
      await sleep(3000); // let the guest settle after boot
      for (let i = 0; i < 3; i++) {
        const s = JSON.parse(await capture(['stats', '--json', 'bench-idle'], env)) as unknown;
        const o = findOverhead(s);
        if (o !== null) overheads.push(o);
        await sleep(500);
      }
      rss = residentBytes(ins.State.Pid);
    } finally {
      await cli(['rm', '-f', 'bench-idle'], env);
    }

    // The floor: the same kernel (ISOLA_VM_KERNEL's), initramfs and root disk with nothing of isola around it.
    const boot = guestBoot(assets, config.vm.kernel);
    const initrd = path.join(root, 'bare-initrd.cpio');
    writeEchoInitrd(boot.initramfs, initrd, MARK);
    const bare = bareQemuArgs(facts, boot.kernel, initrd, config.vm.kernel);
    const qemu = config.bin.qemu ?? 'qemu-system-x86_64';

    const results = await alternate<Timed>([
      { name: 'isola', run: () => cli(['run', '--rm', '--as', 'vm', '--network', 'none', 'base', 'echo', MARK], env) },
      { name: 'bare', run: () => timed(qemu, bare, env) },
    ], { warmup, runs });
    const isolaRuns = results.get('isola') ?? [];
    const bareRuns = results.get('bare') ?? [];
    const failed = [...isolaRuns, ...bareRuns].find((r) => r.code !== 0 || r.firstOutputMs === null);
    const accel = facts.accelerator === 'tcg' ? `tcg (emulated; KVM not used: ${facts.acceleratorReason.replace(/^KVM present but unusable: /, 'present but unusable, ').slice(0, 90)}...)` : 'kvm';
    const ctx = `accelerator ${accel}; guest kernel ${boot.kernelVersion}; ${facts.memoryMiB} MiB, 1 vCPU, microvm + qboot; both arms without a NIC; median of ${runs} A/B rounds`;
    const out: VmBenchResult[] = [];
    for (const [what, pick] of [['exit', (r: Timed) => r.exitMs], ['first output', (r: Timed) => r.firstOutputMs ?? NaN]] as const) {
      const a = median(isolaRuns.map(pick));
      const b = median(bareRuns.map(pick));
      const ratio = median(isolaRuns.map((r, i) => pick(r) / pick(bareRuns[i] as Timed)));
      out.push({ name: `vm: isola run --rm to ${what}`, value: round(a), unit: 'ms', target: 'measured', ok: !failed, note: ctx });
      out.push({ name: `vm: bare QEMU to ${what} (floor)`, value: round(b), unit: 'ms', target: 'measured', ok: !failed, note: `${qemu} ${bare.join(' ')}` });
      out.push({ name: `vm: isola over bare QEMU, to ${what}`, value: round((ratio - 1) * 100), unit: '%', target: '<= 20 %', ok: !failed && ratio <= 1.2, note: failed ? `a run failed: ${failed.stderr.trim().slice(0, 200)}` : 'median of the per-round ratios' });
    }
    const overhead = overheads.length ? median(overheads) : NaN;
    out.push({
      name: 'vm: VMM memory overhead, idle VM',
      value: round(overhead / 2 ** 20),
      unit: 'MiB',
      target: '<= 40 MiB',
      ok: Number.isFinite(overhead) && overhead <= 40 * 2 ** 20,
      note: `QEMU RSS ${rss === null ? '?' : round(rss / 2 ** 20)} MiB minus the resident guest RAM mapping (Firecracker's method); ${facts.accelerator === 'tcg' ? 'under TCG this includes the JIT translation cache (not measured apart), which KVM does not have; ' : ''}${accel}; the Firecracker paper's figure for QEMU is about 131 MB`,
    });
    return out;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The bare launch: the driver's machine, accelerator, kernel command line and disk, no isola. `guestKernel`: whose `kernel` is (isola's reads lapic_timer_hz). */
export function bareQemuArgs(f: VmFacts, kernel: string, initrd: string, guestKernel: 'isola' | 'cloud'): string[] {
  const tsc = (() => {
    try {
      return tscKhzFromCpuinfo(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      return undefined;
    }
  })();
  return [
    '-M', 'microvm', '-accel', f.accelerator, ...(f.cpu === 'default' ? [] : ['-cpu', f.cpu]),
    '-m', `${f.memoryMiB}M`, '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    // File chardevs on /dev/null, not null ones: a virtio-serial port whose host side never
    // opens (a null chardev) blocks the guest's writes to it.
    '-chardev', 'file,id=console,path=/dev/null', '-serial', 'chardev:console',
    '-kernel', kernel, '-initrd', initrd,
    '-append', kernelCmdline({ machine: 'microvm', accel: f.accelerator, tscKhz: tsc, guestKernel }),
    '-drive', `id=root,file=${f.baseDisk},format=raw,if=none,snapshot=on`, '-device', 'virtio-blk-device,drive=root',
    '-device', 'virtio-serial-device,max_ports=8',
    '-chardev', 'stdio,id=log', '-device', 'virtserialport,chardev=log,name=isola.log',
    '-chardev', 'file,id=status,path=/dev/null', '-device', 'virtserialport,chardev=status,name=isola.status',
    '-chardev', 'null,id=agent', '-device', 'virtserialport,chardev=agent,name=isola.agent',
    '-chardev', 'null,id=ctl', '-device', 'virtserialport,chardev=ctl,name=isola.ctl',
  ];
}

function capture(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return runOk(process.execPath, [BIN, ...args], { env });
}

function findOverhead(s: unknown): number | null {
  const first = Array.isArray(s) ? s[0] : s;
  const o = first as { hostOverheadBytes?: unknown; stats?: { hostOverheadBytes?: unknown } } | undefined;
  const v = o?.hostOverheadBytes ?? o?.stats?.hostOverheadBytes;
  return typeof v === 'number' ? v : null;
}

function residentBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const round = (x: number): number => Math.round(x * 10) / 10;
