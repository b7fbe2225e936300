import net from 'node:net';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { IsolaError } from '../core/errors.js';
import { run } from '../util/exec.js';
import { quantile } from './stats.js';
import { Aborted } from './alternate.js';

/**
 * The application's probes: is it answering yet (HTTP: a 2xx or 3xx to GET PATH; TCP: a
 * connection accepted), and how it does under a fixed load from a real load generator.
 *
 * The load generator is wrk (Debian's package): a C program with an event loop per thread that
 * keeps a fixed number of connections busy and reports a corrected latency distribution. It is
 * chosen over autocannon because it runs outside Node.js (the measuring process does not compete
 * with its own load generator for the event loop) and its figures are the ones published
 * benchmarks quote. Every run's exit status, request count, socket errors and non-2xx/3xx
 * answers are checked: a run that failed is an error, never a fast result.
 */
export interface HttpTarget {
  host: string;
  port: number;
  path: string;
}

/** One GET; resolves with the status code, or null when nothing answered within timeoutMs. */
export function httpStatus(t: HttpTarget, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: t.host, port: t.port, path: t.path, agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** One TCP connection; resolves with the milliseconds to connect, or null when refused or timed out. */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = net.connect({ host, port });
    const done = (v: number | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.once('connect', () => done(performance.now() - t0));
    sock.once('error', () => done(null));
  });
}

export type AppProbe = { kind: 'http'; port: number; path: string } | { kind: 'tcp'; port: number };

/** Waits until the application answers; resolves at that moment, or rejects at the deadline. */
export async function waitAnswer(host: string, p: AppProbe, deadline: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    if (signal?.aborted) throw new Aborted();
    if (p.kind === 'http') {
      const s = await httpStatus({ host, port: p.port, path: p.path }, 1000);
      if (s !== null && s >= 200 && s < 400) return;
    } else if ((await tcpConnect(host, p.port, 1000)) !== null) return;
    if (Date.now() > deadline) throw new Error(`${host}:${p.port} did not answer${p.kind === 'http' ? ` GET ${p.path} with 2xx or 3xx` : ' a TCP connection'} in time`);
    await sleep(20);
  }
}

/** The fixed load every kind gets. */
export interface LoadSpec {
  threads: number;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  socketErrors: number;
  non2xx3xx: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function duration(v: string, unit: string): number {
  return Number(v) * (UNIT_MS[unit] ?? NaN);
}

/** Parses wrk's report (with --latency); null when it is not one. */
export function parseWrk(text: string): LoadResult | null {
  const req = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)/m.exec(text);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const p50 = /^\s*50(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const p99 = /^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  if (!req || !rps || !p50 || !p99) return null;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(req[1]),
    rps: Number(rps[1]),
    p50Ms: duration(p50[1] as string, p50[2] as string),
    p99Ms: duration(p99[1] as string, p99[2] as string),
    socketErrors: sock ? sock.slice(1).reduce((a, x) => a + Number(x), 0) : 0,
    non2xx3xx: bad ? Number(bad[1]) : 0,
  };
}

/** wrk's version line ("wrk 4.1.0 [epoll] ..."); wrk -v exits 1 by design. */
export async function wrkVersion(wrk: string): Promise<string> {
  const r = await run(wrk, ['-v']).catch(() => null);
  const m = r ? /wrk\s+(\S+)/.exec(`${r.stdout}${r.stderr}`) : null;
  if (!m) throw new IsolaError('UNAVAILABLE', `the load generator ${wrk} does not run`, 'install Debian\'s wrk package (npm run bootstrap does)');
  return m[1] as string;
}

/** Runs wrk against the target; throws when the run failed or the application failed under it. */
export async function runWrk(wrk: string, t: HttpTarget, load: LoadSpec): Promise<LoadResult> {
  const url = `http://${t.host}:${t.port}${t.path}`;
  const r = await run(wrk, ['-t', String(load.threads), '-c', String(load.connections), '-d', `${load.durationS}s`, '--timeout', '5s', '--latency', url], { timeoutMs: (load.durationS + 30) * 1000 });
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.code !== 0 || r.timedOut) throw new Error(`wrk against ${url} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${out.trim().split('\n').slice(-2).join(' ')}`);
  const res = parseWrk(r.stdout);
  if (!res) throw new Error(`wrk against ${url} printed no report: ${out.trim().slice(0, 200)}`);
  if (res.requests === 0) throw new Error(`wrk against ${url} completed no request`);
  if (res.non2xx3xx > 0) throw new Error(`${url} answered ${res.non2xx3xx} of ${res.requests} requests with an error status under load`);
  // busybox httpd and other HTTP/1.0 servers close after each answer; wrk reconnects. A few
  // errors at the end of the run are connections cut by the deadline; more means failure.
  if (res.socketErrors > Math.max(10, res.requests * 0.05)) throw new Error(`wrk against ${url}: ${res.socketErrors} socket errors for ${res.requests} requests`);
  return res;
}

/** The --tcp probe under load: `count` connections one after the other; their connect times. */
export async function tcpConnectTimes(host: string, port: number, count: number): Promise<{ p50Ms: number; p99Ms: number; failed: number }> {
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const ms = await tcpConnect(host, port, 3000);
    if (ms === null) failed++;
    else times.push(ms);
  }
  if (times.length === 0) throw new Error(`no TCP connection to ${host}:${port} succeeded`);
  return { p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99), failed };
}
