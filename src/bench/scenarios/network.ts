import net from 'node:net';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MeasuredKind } from '../../core/compare-result.js';
import { alternate } from '../alternate.js';
import type { Target } from '../lab.js';
import { instanceProcesses } from '../host-probe.js';
import { parseRtts } from '../probe-binary.js';
import { pooledQuantileSummary, quantile, summarize } from '../stats.js';
import { run } from '../../util/exec.js';
import { PROBE_ARGV, PROBE_PORT, probeFor, type Metric, type ScenarioContext } from '../scenario.js';
import { freePort } from '../peers/registry.js';


/** One TCP connection, `count` one-byte request/response transactions, one in flight (netperf TCP_RR style). */
export function rrBatch(host: string, port: number, count: number, warm: number, timeoutMs = 30_000): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    const rtts: number[] = [];
    let sent = 0n;
    let i = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no echo from ${host}:${port} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const send = () => {
      sent = process.hrtime.bigint();
      sock.write('x');
    };
    sock.on('connect', send);
    sock.on('data', (d: Buffer) => {
      // One byte out, one byte back; a coalesced reply still ends one transaction per byte.
      for (let b = 0; b < d.length; b++) {
        const us = Number(process.hrtime.bigint() - sent) / 1000;
        if (i >= warm) rtts.push(us);
        i++;
      }
      if (i >= warm + count) {
        clearTimeout(timer);
        sock.destroy();
        resolve(rtts);
      } else send();
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function waitForEcho(host: string, port: number, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      await rrBatch(host, port, 1, 0, 3000);
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await sleep(200);
    }
  }
}

/**
 * Round trips per connection and connections per target: enough trips that p99 is not one
 * outlier, and four times the other probes' runs (12 in --quick), spread over the scenario's
 * time, so that the pooled p99 averages over the slow spells of this host (a run of 1000 round
 * trips on loopback lasts 15 ms: its own p99 was 15-20 us or 33-85 us depending on whether such a
 * spell fell into it).
 */
export function networkPlan(quick: boolean, runs: number): { count: number; warm: number; rounds: number } {
  return { count: quick ? 1000 : 2000, warm: 50, rounds: runs * 4 };
}

/** The CPU of round `round` (warm-up rounds are negative): round by round over the CPUs, so every target gets each CPU alike. */
export function cpuForRound(round: number, cpus: number): number {
  const n = Math.max(1, Math.floor(cpus));
  return ((round % n) + n) % n;
}

/** Puts every thread of these host processes on one CPU (isola-bench pin); throws with the helper's reason. */
async function pin(helper: string, cpu: number, pids: readonly number[]): Promise<void> {
  if (pids.length === 0) throw new Error('no host process of the echo server to place on a CPU');
  const r = await run(helper, ['pin', String(cpu), ...pids.map(String)], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`cannot place the echo server on CPU ${cpu}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`);
}

/** One connection of `count` round trips by isola-bench rr on the host, the client on `cpu`; the round trips in microseconds. */
async function rrOnCpu(helper: string, host: string, port: number, count: number, warm: number, cpu: number): Promise<number[]> {
  const r = await run(helper, ['rr', host, String(port), String(count), String(warm), String(cpu)], { timeoutMs: 60_000 });
  const rtts = r.code === 0 ? parseRtts(r.stdout) : null;
  if (!rtts) throw new Error(`round trips to ${host}:${port} failed: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? `exit ${r.code}`}`);
  return rtts;
}

/**
 * Network latency from the host to each instance over its real path (container: veth on
 * isola's bridge; VM: tap on the same bridge and virtio-net), against the same busybox echo
 * server run natively on loopback. Each run is one TCP connection from isola-bench rr (a static
 * C client: blocking one-byte write and read, no event loop) with `count` transactions after
 * `warm` uncounted ones; per run we keep p50 and p99.
 *
 * The client and every host process of the echo server's side (the native nc, a container's
 * processes, a VM's QEMU threads) are put on the same CPU for the run, round by round over the
 * CPUs. Left to the scheduler, the figure followed where it placed the echo process: on this
 * 2-vCPU host (itself a VM) a wake-up on the other, idle vCPU costs about 25 us more than on the
 * same one, so a run came out at about 15 us or about 45 us, and the median of 3 runs doubled
 * from one compare to the next.
 */
export async function network(ctx: ScenarioContext): Promise<Metric[]> {
  const { count, warm, rounds } = networkPlan(ctx.quick, ctx.runs);
  const helper = ctx.helper;
  if (!helper) throw new Error(`no benchmark helper (${ctx.helperMissing ?? 'it could not be built'}): the round trips are timed by it`);
  const cpus = os.availableParallelism();
  const nativePort = await freePort();
  const native = await ctx.lab.spawnNative(PROBE_ARGV.map((a) => (a === String(PROBE_PORT) ? String(nativePort) : a)));
  try {
    // Native: the echo server on loopback; each kind: its probe instances on isola's bridge, one per round in turn.
    const endpoints = new Map<Target, { host: string; port: number; pids: () => number[] }[]>([['native', [{ host: '127.0.0.1', port: nativePort, pids: () => (native.pid ? [native.pid] : []) }]]]);
    const notMeasured: Partial<Record<MeasuredKind, string>> = {};
    for (const k of ctx.kinds) {
      const recs = ctx.probes.get(k) ?? [];
      const eps = recs.filter((r) => r.ip).map((r) => ({ host: r.ip as string, port: PROBE_PORT, pids: () => instanceProcesses([r.id]).get(r.id) ?? [] }));
      if (eps.length) endpoints.set(k, eps);
      else notMeasured[k] = recs.length ? 'the instance has no address on isola\'s bridge' : 'no probe instance';
    }
    for (const [t, eps] of endpoints) {
      ctx.progress.step(`network: waiting for the echo server in ${t}`);
      for (const ep of eps) await waitForEcho(ep.host, ep.port, 30_000);
    }
    const res = await alternate(
      [...endpoints].map(([t, eps]) => ({
        name: t,
        run: async (round: number) => {
          const cpu = cpuForRound(round, cpus);
          ctx.progress.step(`network: ${t} run ${round < 0 ? 'warm-up' : `${round + 1}/${rounds}`} (${count} round trips on CPU ${cpu})`);
          const ep = probeFor(eps, round) as (typeof eps)[number];
          await pin(helper, cpu, ep.pids());
          const rtts = await rrOnCpu(helper, ep.host, ep.port, count, warm, cpu);
          return { p50: quantile(rtts, 0.5), rtts, cpu };
        },
      })),
      { warmup: ctx.warmup, runs: rounds, signal: ctx.lab.signal },
    );
    const p50: Metric['kinds'] = {};
    const p99: Metric['kinds'] = {};
    for (const [t, xs] of res) {
      p50[t as MeasuredKind] = summarize(xs.map((x) => x.p50));
      p99[t as MeasuredKind] = pooledQuantileSummary(xs.map((x) => x.rtts), 0.99);
    }
    const nm = Object.keys(notMeasured).length ? { notMeasured } : {};
    const notes = [
      `host to instance, one TCP connection per run, ${count} one-byte request/responses one in flight after ${warm} warm-up ones, timed by isola-bench rr (static C, blocking write and read); busybox nc -ll -e cat as the echo server`,
      `the client and the echo server's host processes (native nc; the container's processes; the VM's QEMU threads) on one CPU per run, runs alternating over the host's ${cpus} CPUs: left to the scheduler, a wake-up across CPUs of this host made a run's figure bimodal`,
      'paths: native = loopback on the host; container = veth on the isola0 bridge; VM = tap on the isola0 bridge + virtio-net (no NAT anywhere)',
      `sample = the p50 (or p99) of one run; ${rounds} runs per path, rotating over the probe instances`,
    ];
    const p99Notes = [...notes.slice(0, 3), `the figure is the p99 of all ${rounds} x ${count} round trips of the path pooled (not the median of the runs' p99s: a run lasts 15-400 ms, and whether one of this host's slow spells fell into it made its own p99 bimodal); n = ${rounds} runs, p10-p90 of the runs' own p99s, interval from resampling whole runs`];
    const sample = 'one connection of round trips to one probe instance (runs rotate over the instances and the CPUs)';
    const extra = { roundTripsPerRun: count, warmUpPerRun: warm, cpus, cpuOfRun: Object.fromEntries([...res].map(([t, xs]) => [t, xs.map((x) => x.cpu)])) };
    return [
      { id: 'net_rtt_p50_us', unit: 'us', kinds: p50, ...nm, notes, sample, extra },
      { id: 'net_rtt_p99_us', unit: 'us', kinds: p99, ...nm, notes: p99Notes, sample },
    ];
  } finally {
    native.stop();
  }
}
