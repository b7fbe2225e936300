import { setTimeout as sleep } from 'node:timers/promises';
import type { Kind } from '../../core/types.js';
import type { MeasuredKind } from '../../core/compare-result.js';
import type { InstanceRecord } from '../../state/instances.js';
import { run } from '../../util/exec.js';
import { alternate } from '../alternate.js';
import { footprints } from '../host-probe.js';
import type { Lab } from '../lab.js';
import { runWrk, tcpConnectTimes, waitAnswer, type AppProbe, type LoadSpec } from '../load.js';
import { summarize } from '../stats.js';
import type { Metric } from '../scenario.js';
import { instanceBytes } from './disk.js';

/**
 * The user's application as the workload (`--http PORT[/PATH]` or `--tcp PORT`): per kind, a
 * new instance of the image with its own command, then
 *  - ready: from the create call to its first successful answer (HTTP 2xx/3xx to GET PATH, or
 *    an accepted TCP connection), polled every 20 ms from the host over isola's bridge;
 *  - under load: wrk with a fixed number of connections for a fixed time against the
 *    instance's own address (no port forwarder in the path): requests per second, p50 and p99
 *    latency (with --tcp: the connect time of sequential connections; wrk speaks HTTP only);
 *  - memory while serving: the PSS of the instance's host processes, read halfway through the
 *    load (for a VM: QEMU with the guest pages touched);
 *  - the instance's own disk (for the disk rows).
 * Each instance is one sample; kinds alternate round by round.
 */
export interface AppOptions {
  image: string;
  probe: AppProbe;
  wrk: string;
  load: LoadSpec;
  runs: number;
  warmup: number;
  /** How long an instance may take to answer. */
  readyTimeoutMs: (kind: Kind) => number;
  step: (line: string) => void;
}

export interface AppSample {
  readyMs: number;
  rps: number | null;
  p50Ms: number;
  p99Ms: number;
  memoryBytes: number;
  diskBytes: number;
  socketErrors: number;
}

/**
 * Tells the host's neighbour table the instance's MAC (a STALE entry, which the kernel checks
 * and corrects on its own): the first SYN then goes out at once instead of after an ARP retry,
 * which takes a second and would be counted as startup. isola's bridge only; best effort.
 */
export async function hintNeighbour(rec: InstanceRecord): Promise<void> {
  const n = rec.spec.network;
  if (n.mode !== 'bridge') return;
  await run('ip', ['neigh', 'replace', n.ip, 'lladdr', n.mac, 'dev', n.bridge, 'nud', 'stale']).catch(() => undefined);
}

/** The answering instance under the fixed load; memory read halfway through. */
export async function serveAndMeasure(rec: InstanceRecord, o: Pick<AppOptions, 'probe' | 'wrk' | 'load'>): Promise<Omit<AppSample, 'readyMs' | 'diskBytes'>> {
  const ip = rec.ip as string;
  let memoryBytes = 0;
  const reader = (async () => {
    await sleep((o.load.durationS * 1000) / 2);
    memoryBytes = footprints([rec.id]).get(rec.id) ?? 0;
  })();
  if (o.probe.kind === 'http') {
    const r = await runWrk(o.wrk, { host: ip, port: o.probe.port, path: o.probe.path }, o.load);
    await reader;
    return { rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, memoryBytes, socketErrors: r.socketErrors };
  }
  const t = await tcpConnectTimes(ip, o.probe.port, 200);
  await reader;
  if (memoryBytes === 0) memoryBytes = footprints([rec.id]).get(rec.id) ?? 0;
  return { rps: null, p50Ms: t.p50Ms, p99Ms: t.p99Ms, memoryBytes, socketErrors: t.failed };
}

/** One new instance of the application: started, answering, loaded, measured, removed. */
export async function appLaunch(lab: Lab, kind: Kind, o: AppOptions): Promise<AppSample> {
  const t0 = performance.now();
  const rec = await lab.create(kind, [], { tag: 'app', image: o.image });
  try {
    if (!rec.ip) throw new Error(`the ${kind} instance has no address on isola's bridge`);
    await hintNeighbour(rec);
    await lab.start(rec);
    await waitAnswer(rec.ip, o.probe, Date.now() + o.readyTimeoutMs(kind), lab.signal);
    const readyMs = performance.now() - t0;
    const served = await serveAndMeasure(rec, o);
    return { readyMs, ...served, diskBytes: instanceBytes(rec) };
  } finally {
    await lab.remove(rec);
  }
}

export const APP_METRICS = ['app_ready_ms', 'app_rps', 'app_latency_p50_ms', 'app_latency_p99_ms', 'app_memory_bytes'] as const;

/** The app rows from samples per kind (the full-OS VM's samples join them under `vm-os`). */
export function appMetrics(samples: Map<MeasuredKind, AppSample[]>, o: Pick<AppOptions, 'image' | 'probe' | 'load'>, notMeasured: Partial<Record<MeasuredKind, string>>, tool: string): Metric[] {
  const pick = (f: (s: AppSample) => number | null) => {
    const kinds: Metric['kinds'] = {};
    for (const [k, xs] of samples) {
      const v = xs.map(f).filter((x): x is number => x !== null && Number.isFinite(x));
      if (v.length) kinds[k] = summarize(v);
    }
    return kinds;
  };
  const nm = Object.keys(notMeasured).length ? { notMeasured } : {};
  const what = o.probe.kind === 'http' ? `GET http://INSTANCE:${o.probe.port}${o.probe.path}` : `TCP port ${o.probe.port}`;
  const loadText = o.probe.kind === 'http'
    ? `${tool}, ${o.load.threads} thread(s), ${o.load.connections} connections for ${o.load.durationS} s against the instance's own address on isola's bridge (no port forwarder in the path)`
    : '200 TCP connections one after the other against the instance\'s own address (wrk speaks HTTP only)';
  const sample = 'one new instance of the application';
  const rows: Metric[] = [
    { id: 'app_ready_ms', unit: 'ms', kinds: pick((s) => s.readyMs), ...nm, sample, notes: [`${o.image}: from the create call until the first successful answer to ${what} (${o.probe.kind === 'http' ? '2xx or 3xx' : 'an accepted connection'}), polled every 20 ms from the host; the host's neighbour entry for the instance is set first so that no ARP retry is counted`] },
    { id: 'app_latency_p50_ms', unit: 'ms', kinds: pick((s) => s.p50Ms), ...nm, sample, notes: [`${o.probe.kind === 'http' ? 'latency of a request under the fixed load' : 'TCP connect time'}: ${loadText}`] },
    { id: 'app_latency_p99_ms', unit: 'ms', kinds: pick((s) => s.p99Ms), ...nm, sample, notes: [`the 99th percentile of the same runs: ${loadText}`] },
    { id: 'app_memory_bytes', unit: 'bytes', kinds: pick((s) => s.memoryBytes), ...nm, sample, notes: ['PSS of every host process of the instance halfway through the load: for a container its monitor and the application\'s processes, for a VM QEMU with every guest page touched (the OS, the application and its buffers)'] },
  ];
  if (o.probe.kind === 'http') {
    rows.splice(1, 0, { id: 'app_rps', unit: 'req/s', kinds: pick((s) => s.rps), ...nm, sample, notes: [`completed requests per second under the fixed load: ${loadText}`] });
  } else {
    rows.splice(1, 0, { id: 'app_rps', unit: 'req/s', kinds: {}, notMeasured: Object.fromEntries([...samples.keys()].map((k) => [k, 'wrk speaks HTTP only: with --tcp, requests per second are not measured'])), sample, notes: [] });
  }
  return rows;
}

/** The application in every kind, alternated round by round. */
export async function appScenario(lab: Lab, kinds: readonly Kind[], o: AppOptions): Promise<{ samples: Map<MeasuredKind, AppSample[]> }> {
  const res = await alternate(
    kinds.map((kind) => ({
      name: kind,
      run: async (round: number) => {
        o.step(`app: ${kind} instance ${round < 0 ? 'warm-up' : `${round + 1}/${o.runs}`} (start, answer, ${o.probe.kind === 'http' ? `${o.load.durationS} s of load` : 'connections'})`);
        return appLaunch(lab, kind, o);
      },
    })),
    { warmup: o.warmup, runs: o.runs, signal: lab.signal },
  );
  return { samples: new Map([...res].map(([k, xs]) => [k as MeasuredKind, xs])) };
}
