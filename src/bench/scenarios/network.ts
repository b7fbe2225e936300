import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MeasuredKind } from '../../core/compare-result.js';
import { alternate } from '../alternate.js';
import type { Target } from '../lab.js';
import { quantile, summarize } from '../stats.js';
import { PROBE_ARGV, PROBE_PORT, probeFor, type Metric, type ScenarioContext } from '../scenario.js';


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

/** busybox nc -ll re-listens after each connection; a connect in that gap is refused: try again. */
async function withRetry<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || (e as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw e;
      await sleep(25);
    }
  }
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Network latency from the host to each instance over its real path (container: veth on
 * isola's bridge; VM: tap on the same bridge and virtio-net), against the same busybox echo
 * server run natively on loopback. Each run is one connection with a bounded number of
 * transactions to an address isola created; per run we keep p50 and p99.
 */
export async function network(ctx: ScenarioContext): Promise<Metric[]> {
  const count = ctx.quick ? 200 : 500;
  const warm = 20;
  const nativePort = await freePort();
  const stopNative = await ctx.lab.spawnNative(PROBE_ARGV.map((a) => (a === String(PROBE_PORT) ? String(nativePort) : a)));
  try {
    // Native: the echo server on loopback; each kind: its probe instances on isola's bridge, one per round in turn.
    const endpoints = new Map<Target, { host: string; port: number }[]>([['native', [{ host: '127.0.0.1', port: nativePort }]]]);
    const notMeasured: Partial<Record<MeasuredKind, string>> = {};
    for (const k of ctx.kinds) {
      const recs = ctx.probes.get(k) ?? [];
      const eps = recs.filter((r) => r.ip).map((r) => ({ host: r.ip as string, port: PROBE_PORT }));
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
          ctx.progress.step(`network: ${t} run ${round < 0 ? 'warm-up' : `${round + 1}/${ctx.runs}`} (${count} round trips)`);
          const ep = probeFor(eps, round) as { host: string; port: number };
          const rtts = await withRetry(() => rrBatch(ep.host, ep.port, count, warm));
          return { p50: quantile(rtts, 0.5), p99: quantile(rtts, 0.99) };
        },
      })),
      { warmup: ctx.warmup, runs: ctx.runs, signal: ctx.lab.signal },
    );
    const p50: Metric['kinds'] = {};
    const p99: Metric['kinds'] = {};
    for (const [t, xs] of res) {
      p50[t as MeasuredKind] = summarize(xs.map((x) => x.p50));
      p99[t as MeasuredKind] = summarize(xs.map((x) => x.p99));
    }
    const nm = Object.keys(notMeasured).length ? { notMeasured } : {};
    const notes = [
      `host to instance, one TCP connection per run, ${count} one-byte request/responses one in flight after ${warm} warm-up ones; busybox nc -ll -e cat as the echo server`,
      'paths: native = loopback on the host; container = veth on the isola0 bridge; VM = tap on the isola0 bridge + virtio-net (no NAT anywhere)',
      'sample = the p50 (or p99) of one run; runs rotate over the probe instances; the client is Node.js on the host, the same for every path',
    ];
    const sample = 'one run of round trips to one probe instance (rounds rotate over the instances)';
    return [
      { id: 'net_rtt_p50_us', unit: 'us', kinds: p50, ...nm, notes, sample },
      { id: 'net_rtt_p99_us', unit: 'us', kinds: p99, ...nm, notes, sample },
    ];
  } finally {
    stopNative();
  }
}
