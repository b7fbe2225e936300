import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Router, Call } from './router.js';
import { KINDS, type Stats } from '../core/types.js';
import { lifeOf, type HealthStatus, type InstanceRecord } from '../state/instances.js';

/**
 * GET /metrics: the Prometheus exposition format (prom-client). Per instance, labelled by id,
 * name, image and kind: CPU seconds, memory use and limit, network and block bytes, pids,
 * restarts, health, and what the isolation itself costs the host (monitor or VMM memory); per
 * host, the count of instances per kind and state. Figures are read at each scrape, none kept.
 */

/** The states an instance is counted in: the record's, with a paused running instance as `paused`. */
export const METRIC_STATES = ['creating', 'created', 'running', 'paused', 'exited', 'dead'] as const;
const HEALTH: HealthStatus[] = ['starting', 'healthy', 'unhealthy'];
const LABELS = ['id', 'name', 'image', 'kind'] as const;

/** A stats reading that takes longer than this is given up for this scrape (and counted). */
export const STATS_TIMEOUT_MS = 3000;

/** Where the figures come from: the engine in the server, plain functions in unit tests. */
export interface MetricsSource {
  records(): Promise<InstanceRecord[]>;
  stats(rec: InstanceRecord): Promise<Stats>;
}

function stateOf(r: InstanceRecord): (typeof METRIC_STATES)[number] {
  return r.state === 'running' && lifeOf(r).paused ? 'paused' : r.state;
}

/** Stats are read for running instances; a paused VM or hybrid cannot answer (its guest is stopped). */
function measurable(r: InstanceRecord): boolean {
  return r.state === 'running' && !(lifeOf(r).paused && r.kind !== 'container');
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The instance and host figures, in the text format. */
export async function renderMetrics(src: MetricsSource, statsTimeoutMs = STATS_TIMEOUT_MS): Promise<string> {
  const started = process.hrtime.bigint();
  const reg = new Registry();
  const g = (name: string, help: string, labelNames: readonly string[] = LABELS): Gauge => new Gauge({ name, help, labelNames, registers: [reg] });
  const c = (name: string, help: string): Counter => new Counter({ name, help, labelNames: LABELS, registers: [reg] });

  const count = g('isola_instances', 'Instances per isolation kind and state.', ['kind', 'state']);
  const info = g('isola_instance_info', 'One per instance, with its state; join on id for the state of other series.', [...LABELS, 'state']);
  const running = g('isola_instance_running', '1 when the instance is running (paused included), else 0.');
  const restarts = c('isola_instance_restarts_total', 'Restarts done by the restart policy since the last start by the user.');
  const health = g('isola_instance_health_status', 'The health check\'s status, 1 for the current one (instances with a health check only).', [...LABELS, 'status']);
  const cpu = c('isola_instance_cpu_seconds_total', 'CPU time of the workload (a VM\'s: the guest\'s busy time), seconds.');
  const mem = g('isola_instance_memory_bytes', 'Memory in use by the workload (cgroup usage, or the guest\'s used memory).');
  const limit = g('isola_instance_memory_limit_bytes', 'Memory limit of the workload (a VM\'s: its RAM), when it has one.');
  const overhead = g('isola_instance_isolation_overhead_bytes', 'Host memory the isolation itself costs: conmon\'s PSS for a container, QEMU\'s own resident memory (guest RAM excluded) for a VM or hybrid.');
  const pids = g('isola_instance_pids', 'Processes of the workload (a VM\'s: in the guest).');
  const rx = c('isola_instance_network_receive_bytes_total', 'Bytes the instance received on its network interface.');
  const tx = c('isola_instance_network_transmit_bytes_total', 'Bytes the instance sent on its network interface.');
  const rd = c('isola_instance_block_read_bytes_total', 'Bytes read from block devices (cgroup io.stat; a VM\'s disks as QEMU counts them).');
  const wr = c('isola_instance_block_write_bytes_total', 'Bytes written to block devices, counted as the reads are.');
  const failed = g('isola_scrape_stats_failures', 'Running instances whose figures could not be read in this scrape.', []);
  const took = g('isola_scrape_duration_seconds', 'How long this scrape took to gather the figures, seconds.', []);

  const recs = await src.records();
  for (const kind of KINDS) for (const state of METRIC_STATES) count.set({ kind, state }, 0);
  for (const r of recs) count.inc({ kind: r.kind, state: stateOf(r) });

  let failures = 0;
  await Promise.all(recs.map(async (r) => {
    const l = { id: r.id, name: r.name, image: r.imageRef, kind: r.kind };
    const life = lifeOf(r);
    info.set({ ...l, state: stateOf(r) }, 1);
    running.set(l, r.state === 'running' ? 1 : 0);
    restarts.inc(l, life.restartCount);
    if (life.health) for (const status of HEALTH) health.set({ ...l, status }, life.health.status === status ? 1 : 0);
    if (!measurable(r)) return;
    let s: Stats;
    try {
      s = await withTimeout(src.stats(r), statsTimeoutMs);
    } catch {
      failures++;
      return;
    }
    cpu.inc(l, s.cpuNanos / 1e9);
    mem.set(l, s.memoryBytes);
    if (s.memoryLimitBytes !== null) limit.set(l, s.memoryLimitBytes);
    if (s.hostOverheadBytes !== null) overhead.set(l, s.hostOverheadBytes);
    if (s.pids !== null) pids.set(l, s.pids);
    if (s.netRxBytes !== null) rx.inc(l, s.netRxBytes);
    if (s.netTxBytes !== null) tx.inc(l, s.netTxBytes);
    if (s.blockReadBytes != null) rd.inc(l, s.blockReadBytes);
    if (s.blockWriteBytes != null) wr.inc(l, s.blockWriteBytes);
  }));
  failed.set(failures);
  took.set(Number(process.hrtime.bigint() - started) / 1e9);
  return reg.metrics();
}

/** The server process's own figures (memory, CPU, event loop), kept across scrapes. */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'isola_serve_' });
    // Gauges whose names end in _total, which promtool's lint refuses (counters only end so).
    for (const m of processRegistry.getMetricsAsArray()) if (!(m instanceof Counter) && m.name.endsWith('_total')) processRegistry.removeSingleMetric(m.name);
  }
  return processRegistry;
}

async function metrics(c: Call): Promise<void> {
  const e = c.api.engine;
  const text = await renderMetrics({ records: () => e.list(true), stats: async (r) => (await e.stats(r.id)).stats });
  const body = `${text}\n${await processMetrics().metrics()}`;
  c.res.writeHead(200, { 'Content-Type': Registry.PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  c.res.end(c.req.method === 'HEAD' ? undefined : body);
}

export function register(r: Router): void {
  r.add('GET', '/metrics', metrics);
}
