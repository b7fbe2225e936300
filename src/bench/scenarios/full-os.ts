import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MeasuredKind } from '../../core/compare-result.js';
import { throwIfAborted } from '../alternate.js';
import { OS_EXITED, OS_MARKER } from '../full-os.js';
import type { Lab } from '../lab.js';
import { waitAnswer, type AppProbe, type LoadSpec } from '../load.js';
import { summarize } from '../stats.js';
import { MONITOR_PIDFILES } from './startup.js';
import { hintNeighbour, serveAndMeasure, type AppSample } from './app.js';
import { instanceBytes } from './disk.js';
import { readMemory, type MemoryReading } from './memory.js';
import type { Metric } from '../scenario.js';

/**
 * The full-OS VM (`vm-os`): the same workload as a service of a whole Debian system booted
 * through SeaBIOS and syslinux. Each boot is one sample of everything measured on it:
 *  - milestones from the create call: QEMU's pidfile (ready), the firmware handing over to the
 *    disk's bootloader (the driver's start returns then), the kernel's first console line
 *    ("Linux version"), systemd's greeting ("Welcome to"), the marker the OS prints when it
 *    starts the workload's service (first output), and with an application its first answer;
 *  - the idle instance's memory (QEMU's own and the guest pages the OS touched);
 *  - with an application, the same fixed load and memory while serving as every kind;
 *  - the instance's own disk.
 * The console is the VM's log (no isola init inside); lines are seen when isola's log follow
 * reads them (every 20-25 ms).
 */
export interface OsLaunch {
  readyMs: number | null;
  firmwareMs: number;
  kernelMs: number | null;
  initMs: number | null;
  workloadMs: number | null;
  memory: MemoryReading;
  diskBytes: number;
  app?: AppSample;
}

export interface OsLaunchOptions {
  image: string;
  app?: { probe: AppProbe; wrk: string; load: LoadSpec };
  timeoutMs: number;
  /** Idle time after the workload started before memory is read. */
  settleMs: number;
}

export async function osLaunch(lab: Lab, o: OsLaunchOptions): Promise<OsLaunch> {
  const t0 = performance.now();
  const rec = await lab.create('vm', [], { tag: 'os', image: o.image });
  let readyMs: number | null = null;
  let watcher: fs.FSWatcher | undefined;
  try {
    try {
      watcher = fs.watch(rec.spec.runDir, (_e, f) => {
        if (readyMs === null && f && MONITOR_PIDFILES.includes(String(f))) readyMs = performance.now() - t0;
      });
    } catch {
      /* ready stays unmeasured */
    }
    await hintNeighbour(rec);
    const started = await lab.start(rec);
    const firmwareMs = performance.now() - t0;
    let kernelMs: number | null = null;
    let initMs: number | null = null;
    let workloadMs: number | null = null;
    let exited: string | undefined;
    // The console is followed until the instance is measured: its milestones, then (while the
    // application is awaited) the line the OS prints if the workload's service ends.
    const follow = new AbortController();
    const timer = setTimeout(() => follow.abort(), o.timeoutMs);
    const stop = () => follow.abort();
    lab.signal.addEventListener('abort', stop);
    let markerSeen!: () => void;
    const marker = new Promise<void>((resolve) => (markerSeen = resolve));
    const following = (async () => {
      try {
        for await (const e of lab.engine.logs(started, true, follow.signal)) {
          const now = performance.now() - t0;
          if (kernelMs === null && /Linux version \d/.test(e.text)) kernelMs = now;
          if (initMs === null && /Welcome to /.test(e.text)) initMs = now;
          if (workloadMs === null && e.text.includes(OS_MARKER)) {
            workloadMs = now;
            markerSeen();
            if (!o.app) break;
          }
          if (e.text.includes(OS_EXITED)) {
            exited = e.text.slice(e.text.indexOf(OS_EXITED) + OS_EXITED.length).replace(/^[:\s]+/, '').trim();
            follow.abort();
            break;
          }
        }
      } catch (e) {
        if (!follow.signal.aborted) throw e;
      } finally {
        markerSeen();
      }
    })();
    const failed = () => new Error(`the full-OS VM's workload ended (systemd: ${exited || 'no result'}) before it ${workloadMs === null ? 'was seen to start' : 'answered'}; isola logs of a VM booted from ${o.image} shows its console`);
    let appReady = 0;
    try {
      await marker;
      throwIfAborted(lab.signal);
      if (workloadMs === null) throw exited !== undefined ? failed() : new Error(`the full-OS VM did not start its workload within ${o.timeoutMs / 1000} s (see isola logs of a VM booted from ${o.image})`);
      if (o.app) {
        // The answer, unless the workload ends first (then its result, at once).
        await waitAnswer(rec.ip as string, o.app.probe, Date.now() + o.timeoutMs, follow.signal).catch((e: unknown) => {
          throwIfAborted(lab.signal);
          if (exited !== undefined) throw failed();
          if (follow.signal.aborted) throw new Error(`${rec.ip as string}:${o.app?.probe.port} did not answer within ${o.timeoutMs / 1000} s of the boot`);
          throw e;
        });
        appReady = performance.now() - t0;
      }
    } finally {
      follow.abort();
      clearTimeout(timer);
      lab.signal.removeEventListener('abort', stop);
      await following.catch(() => undefined);
    }
    let app: AppSample | undefined;
    if (o.app) {
      await sleep(o.settleMs);
      const memory = await readMemory(lab.engine, started);
      const served = await serveAndMeasure(started, o.app);
      app = { readyMs: appReady, ...served, diskBytes: instanceBytes(rec) };
      return { readyMs, firmwareMs, kernelMs, initMs, workloadMs, memory, diskBytes: app.diskBytes, app };
    }
    await sleep(o.settleMs);
    const memory = await readMemory(lab.engine, started);
    return { readyMs, firmwareMs, kernelMs, initMs, workloadMs, memory, diskBytes: instanceBytes(rec) };
  } finally {
    watcher?.close();
    await lab.remove(rec);
  }
}

const KIND: MeasuredKind = 'vm-os';

/** The vm-os entries of the rows every kind has, from its boots (merged into those rows by compare). */
export function osMetrics(launches: OsLaunch[], o: { runs: number; image: string }): Metric[] {
  const s = (xs: (number | null | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return v.length ? summarize(v) : undefined;
  };
  const one = (id: Metric['id'], unit: string, xs: (number | null | undefined)[], notes: string[], sample = 'one boot of the full-OS VM'): Metric => {
    const sum = s(xs);
    return { id, unit, kinds: sum ? { [KIND]: sum } : {}, ...(sum ? {} : { notMeasured: { [KIND]: 'no boot reached this point' } }), notes, sample };
  };
  const boots = `${launches.length} boots of the full-OS VM (${o.image}), one after the other`;
  return [
    one('startup_ready_ms', 'ms', launches.map((l) => l.readyMs), [`full-OS VM: QEMU wrote its pidfile; ${boots}`]),
    one('startup_init_ms', 'ms', launches.map((l) => l.firmwareMs), ['full-OS VM: the firmware (SeaBIOS) handed over to the disk\'s bootloader; there is no isola init to report its workload (the OS\'s own systemd starts it)']),
    one('startup_first_output_ms', 'ms', launches.map((l) => l.workloadMs), ['full-OS VM: the OS printed the marker on its console when it started the workload\'s service (after firmware, bootloader, kernel, initramfs and systemd)']),
    one('memory_host_cost_bytes', 'bytes', launches.map((l) => l.memory.hostCost), ['full-OS VM: PSS of QEMU once the workload started and the OS settled: its own memory and every guest page the firmware, kernel, systemd, its services and the workload touched']),
    one('memory_overhead_bytes', 'bytes', launches.map((l) => l.memory.overhead), ['full-OS VM: QEMU\'s resident memory beyond the guest RAM (the same VMM as isola\'s microVM, on q35)']),
    one('density_marginal_bytes', 'bytes', launches.map((l) => l.memory.hostCost), ['full-OS VM: the host memory of each separately booted instance (PSS), standing for the marginal cost of one more: booting several full OSes at once under emulation would take minutes; VMs share almost nothing but QEMU\'s binary'], 'one boot of the full-OS VM (its host memory stands for the marginal one)'),
    one('disk_instance_bytes', 'bytes', launches.map((l) => l.diskBytes), ['full-OS VM: the instance\'s own folder: its qcow2 overlay on the whole disk, its console log and firmware log']),
  ];
}

export const OS_NOT_MEASURED: Partial<Record<Metric['id'], string>> = {
  startup_parallel_ms: 'several full OSes booting at once: not measured (minutes under emulation)',
  cpu_overhead_ratio: 'a full OS has no isola agent to run the probe in; its CPU is virtualized by the same QEMU as isola\'s microVM, measured there',
  io_seq_ratio: 'a full OS has no isola agent to run the probe in; its disk is the same QEMU virtio disk as isola\'s microVM\'s, measured there',
  io_rand_ratio: 'a full OS has no isola agent to run the probe in; its disk is the same QEMU virtio disk as isola\'s microVM\'s, measured there',
  net_rtt_p50_us: 'the full OS runs the workload, not the echo probe; with an application its latency under load is in the app rows',
  net_rtt_p99_us: 'the full OS runs the workload, not the echo probe; with an application its latency under load is in the app rows',
};
