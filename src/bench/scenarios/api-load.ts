import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { alternate } from '../alternate.js';
import { quantile } from '../stats.js';
import { run } from '../../util/exec.js';
import { loadConfig } from '../../core/config.js';
import { startDockerd, type PeerDockerd } from '../peers/dockerd.js';
import type { BenchRow } from '../bench-rows.js';

/**
 * `isola serve` under load: 200 running containers, then `docker ps` (the real 28.x CLI) and a
 * bare GET /containers/json, each timed many times, alternated with the same against a private
 * dockerd holding 200 containers of the same image (given to it by `isola save` and `docker
 * load`); then 50 concurrent create+start+remove cycles through each API. Every instance is
 * --network none on both sides (dockerd runs without a bridge here).
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = path.join(REPO, 'bin', 'isola.js');
const DOCKER = fs.existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';
const N = 200;
const CYCLES = 50;
/** Creates at once while filling: enough to overlap, few enough for 2 cores. */
const FILL_CONCURRENCY = 8;

interface Api {
  call(method: string, p: string, body?: unknown): Promise<{ status: number; text: string; ms: number }>;
}

function apiOn(socketPath: string): Api {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return {
    call: (method, p, body) => new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const t0 = performance.now();
      const req = http.request({ socketPath, agent, method, path: p, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
      });
      req.on('error', reject);
      req.end(data);
    }),
  };
}

async function createStart(api: Api, name: string, cmd: string[]): Promise<string> {
  const c = await api.call('POST', `/v1.41/containers/create?name=${name}`, { Image: 'base', Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
  if (c.status !== 201) throw new Error(`create ${name}: ${c.status} ${c.text.trim()}`);
  const id = (JSON.parse(c.text) as { Id: string }).Id;
  const s = await api.call('POST', `/v1.41/containers/${id}/start`);
  if (s.status !== 204) throw new Error(`start ${name}: ${s.status} ${s.text.trim()}`);
  return id;
}

async function pool<T>(n: number, width: number, f: (i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const out: PromiseSettledResult<T>[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    for (let i = next++; i < n; i = next++) out[i] = await f(i).then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const);
  }));
  return out;
}

const reason = (r: PromiseSettledResult<unknown>): string => (r.status === 'rejected' ? String((r.reason as Error)?.message ?? r.reason) : '');

export async function benchApiLoad(o: { runs: number; log: (s: string) => void }): Promise<{ rows: BenchRow[]; raw: Record<string, unknown> }> {
  const config = loadConfig();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bench-api-'));
  const env = { ...config.env, ISOLA_ROOT: root };
  const sock = path.join(root, 'api.sock');
  const rows: BenchRow[] = [];
  const raw: Record<string, unknown> = {};
  const serve = spawn(process.execPath, ['--', BIN, 'serve', '--socket', sock], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let serveLog = '';
  serve.stderr?.on('data', (d: Buffer) => (serveLog = (serveLog + d.toString()).slice(-4000)));
  let dockerd: PeerDockerd | null = null;
  let dockerdWhy = '';
  const isolaApi = apiOn(sock);
  try {
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(100);
    if (!fs.existsSync(sock)) throw new Error(`isola serve did not listen: ${serveLog}`);
    try {
      dockerd = await startDockerd(config.env, { clientEnv: { DOCKER_BUILDKIT: '0' } });
      const tar = path.join(root, 'base.tar');
      const saved = await run(process.execPath, ['--', BIN, 'save', '-o', tar, 'base'], { env });
      if (saved.code !== 0) throw new Error(`isola save: ${saved.stderr.trim()}`);
      const loaded = await dockerd.docker(['load', '-i', tar]);
      if (loaded.code !== 0) throw new Error(`docker load: ${loaded.stderr.trim()}`);
    } catch (e) {
      dockerdWhy = `no dockerd arm: ${(e as Error).message.split('\n')[0] ?? ''}`;
      o.log(dockerdWhy);
      await dockerd?.stop();
      dockerd = null;
    }
    const dockerdApi = dockerd ? apiOn(dockerd.socket) : null;

    // ---- 200 running containers on each side ------------------------------------------------
    const fill = async (name: string, api: Api): Promise<number> => {
      const t0 = performance.now();
      const res = await pool(N, FILL_CONCURRENCY, (i) => createStart(api, `load-${i}`, ['sleep', '3600']));
      const failed = res.filter((r) => r.status === 'rejected');
      if (failed.length > 0) throw new Error(`${name}: ${failed.length} of ${N} containers did not start: ${reason(failed[0] as PromiseSettledResult<unknown>)}`);
      return performance.now() - t0;
    };
    o.log(`starting ${N} containers through isola serve`);
    const isolaFill = await fill('isola', isolaApi);
    raw.fillMs = { isola: isolaFill };
    if (dockerdApi) {
      o.log(`starting ${N} containers in dockerd`);
      (raw.fillMs as Record<string, number>).dockerd = await fill('dockerd', dockerdApi);
    }
    const listed = JSON.parse((await isolaApi.call('GET', '/v1.41/containers/json')).text) as unknown[];
    if (listed.length !== N) throw new Error(`isola serve lists ${listed.length} running containers, not ${N}`);

    // ---- docker ps and GET /containers/json, alternated -----------------------------------
    const cli = (host: string) => async (): Promise<number> => {
      const r = await run(DOCKER, ['ps', '-q'], { env: { ...config.env, DOCKER_HOST: host, DOCKER_CONFIG: path.join(root, 'docker-cli') } });
      if (r.code !== 0 || r.stdout.split('\n').filter(Boolean).length !== N) throw new Error(`docker ps against ${host}: exit ${r.code}, ${r.stdout.split('\n').filter(Boolean).length} lines: ${r.stderr.trim()}`);
      return r.ms;
    };
    const bare = (api: Api) => async (): Promise<number> => {
      const r = await api.call('GET', '/v1.41/containers/json');
      if (r.status !== 200) throw new Error(`GET /containers/json: ${r.status}`);
      return r.ms;
    };
    const runs = Math.max(o.runs, 100);
    o.log(`docker ps and GET /containers/json with ${N} running: ${runs} rounds, alternated`);
    const res = await alternate([
      { name: 'isola-cli', run: cli(`unix://${sock}`) },
      { name: 'isola-http', run: bare(isolaApi) },
      ...(dockerd && dockerdApi ? [{ name: 'dockerd-cli', run: cli(`unix://${dockerd.socket}`) }, { name: 'dockerd-http', run: bare(dockerdApi) }] : []),
    ], { warmup: 5, runs });
    raw.ps = Object.fromEntries(res);
    const p = (k: string, q: number) => quantile(res.get(k) ?? [], q);
    const note = (k: string) => `n=${res.get(k)?.length ?? 0}, median ${p(k, 0.5).toFixed(1)} ms, p90 ${p(k, 0.9).toFixed(1)} ms`;
    const cliP99 = p('isola-cli', 0.99);
    rows.push({ name: `\`docker ps\` through isola serve, ${N} running, p99 (the CLI's whole run)`, value: Number(cliP99.toFixed(1)), unit: 'ms', target: '< 50 ms', ok: cliP99 < 50, note: note('isola-cli'), ...(dockerd ? { ratio: `isola/dockerd p99 ${(cliP99 / p('dockerd-cli', 0.99)).toFixed(2)}` } : {}) });
    rows.push({ name: `GET /containers/json from isola serve, ${N} running, p99 (the server's answer alone)`, value: Number(p('isola-http', 0.99).toFixed(1)), unit: 'ms', target: '-', ok: null, note: note('isola-http'), ...(dockerd ? { ratio: `isola/dockerd p99 ${(p('isola-http', 0.99) / p('dockerd-http', 0.99)).toFixed(2)}` } : {}) });
    if (dockerd) {
      rows.push({ name: `\`docker ps\` against dockerd ${N} running, p99 (peer)`, value: Number(p('dockerd-cli', 0.99).toFixed(1)), unit: 'ms', target: '-', ok: null, note: note('dockerd-cli') });
      rows.push({ name: `GET /containers/json from dockerd, ${N} running, p99 (peer)`, value: Number(p('dockerd-http', 0.99).toFixed(1)), unit: 'ms', target: '-', ok: null, note: note('dockerd-http') });
    } else rows.push({ name: '`docker ps` against dockerd (peer)', value: null, unit: 'ms', target: '-', ok: null, note: dockerdWhy });

    // ---- 50 concurrent create+start+remove cycles ---------------------------------------
    const cycles = async (api: Api, name: string): Promise<{ ok: number; wallMs: number; failures: string[] }> => {
      o.log(`${CYCLES} concurrent create+start+remove cycles (${name})`);
      const t0 = performance.now();
      const res = await Promise.allSettled(Array.from({ length: CYCLES }, async (_, i) => {
        const id = await createStart(api, `cycle-${i}`, ['true']);
        const rm = await api.call('DELETE', `/v1.41/containers/${id}?force=1`);
        if (rm.status !== 204) throw new Error(`remove cycle-${i}: ${rm.status} ${rm.text.trim()}`);
      }));
      return { ok: res.filter((r) => r.status === 'fulfilled').length, wallMs: performance.now() - t0, failures: res.filter((r) => r.status === 'rejected').map(reason).slice(0, 5) };
    };
    const ic = await cycles(isolaApi, 'isola');
    const dc = dockerdApi ? await cycles(dockerdApi, 'dockerd') : null;
    raw.cycles = { isola: ic, ...(dc ? { dockerd: dc } : {}) };
    const left = (JSON.parse((await isolaApi.call('GET', '/v1.41/containers/json?all=1')).text) as unknown[]).length;
    rows.push({ name: `${CYCLES} concurrent create+start+remove cycles through isola serve (${N} running beside)`, value: ic.ok, unit: 'ok', target: `${CYCLES} of ${CYCLES}`, ok: ic.ok === CYCLES && left === N, note: `${(ic.wallMs / 1000).toFixed(1)} s wall${dc ? `; dockerd: ${dc.ok} ok in ${(dc.wallMs / 1000).toFixed(1)} s` : ''}; ${left - N} extra left${ic.failures.length ? `; ${ic.failures[0]}` : ''}` });
    return { rows, raw };
  } finally {
    o.log('removing the containers');
    const all = await isolaApi.call('GET', '/v1.41/containers/json?all=1').then((r) => JSON.parse(r.text) as { Id: string }[], () => []);
    await pool(all.length, FILL_CONCURRENCY, (i) => isolaApi.call('DELETE', `/v1.41/containers/${all[i]?.Id ?? ''}?force=1`));
    await dockerd?.stop();
    serve.kill('SIGTERM');
    await new Promise((r) => (serve.exitCode !== null ? r(null) : serve.once('exit', r)));
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { rows, raw } = await benchApiLoad({ runs: Number(process.argv[2] ?? 100), log: (m) => process.stderr.write(`api bench: ${m}\n`) });
  for (const r of rows) process.stdout.write(`${r.ok ? 'met ' : r.ok === false ? 'NOT ' : '    '} ${r.name}: ${r.value} ${r.unit} (target ${r.target})${r.ratio ? ` [${r.ratio}]` : ''}${r.note ? `\n       ${r.note}` : ''}\n`);
  process.stdout.write(`${JSON.stringify({ rows, raw: { fillMs: raw.fillMs, cycles: raw.cycles } })}\n`);
}
