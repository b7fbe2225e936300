import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostLeftovers, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { startServe, type Served } from '../../helpers/serve.js';
import { freePort } from '../../helpers/registry.js';

/**
 * GET /metrics of the real `isola serve` with a container and a VM running (started from the
 * CLI): the figures per instance and per kind, `promtool check metrics` on the whole output, and
 * a real Prometheus on loopback that scrapes the server over TCP (bearer token) and answers queries.
 */
let fx: Fixture;
let served: Served;
let sock: string;
let port: number;
let tokenFile: string;
const children: ChildProcess[] = [];

function getText(opts: http.RequestOptions): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(opts, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

async function scrape(): Promise<string> {
  const r = await getText({ socketPath: sock, path: '/metrics' });
  assert.equal(r.status, 200, r.body);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return r.body;
}

function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/**
 * Whether the kernel accounts block I/O to cgroups here: cgroup v2's io controller does; v1's
 * blkio counts only where its root counter moves (on this test host it stays 0: no block device
 * under the data root is accounted), and then a container's figure is 0 too.
 */
function hostCountsBlockIo(): boolean {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return true;
  try {
    return Number(/^Total (\d+)$/m.exec(fs.readFileSync('/sys/fs/cgroup/blkio/blkio.throttle.io_service_bytes', 'utf8'))?.[1] ?? 0) > 0;
  } catch {
    return false;
  }
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  await Promise.race([new Promise((r) => c.once('exit', r)), sleep(10_000).then(() => c.kill('SIGKILL'))]);
}

before(async () => {
  fx = await makeFixture();
  sock = path.join(fx.root, 'api.sock');
  port = await freePort();
  tokenFile = path.join(fx.root, 'token');
  fs.writeFileSync(tokenFile, 'metrics-test-token-0123456789abcdef\n', { mode: 0o600 });
  served = await startServe(fx.root, ['--tcp', `127.0.0.1:${port}`, '--token-file', tokenFile]);
});

after(async () => {
  for (const c of children) await stopChild(c);
  await isola(fx.root, ['rm', '-f', 'm-c', 'm-vm']).catch(() => undefined);
  await served?.stop();
  await fx?.dispose();
});

test('/metrics: a container and a VM started from the CLI, with their figures, kinds and counts; promtool accepts it', async () => {
  const c = await isola(fx.root, ['run', '-d', '--name', 'm-c', '-m', '64m', '--health-cmd', 'true', '--health-interval', '1s',
    'base', 'sh', '-c', 'dd if=/dev/zero of=/tmp/f bs=1M count=8 conv=fsync 2>/dev/null; exec sleep 300']);
  assert.equal(c.code, 0, c.stderr);
  const v = await isola(fx.root, ['run', '-d', '--as', 'vm', '--name', 'm-vm', 'base', 'sleep', '300'], { timeoutMs: 180_000 });
  assert.equal(v.code, 0, v.stderr);
  const ids = { c: c.stdout.trim(), vm: v.stdout.trim() };

  let text = '';
  for (let i = 0; i < 60; i++) {
    text = await scrape();
    if (value(text, 'isola_instance_health_status', { name: 'm-c', status: 'healthy' }) === 1) break;
    await sleep(500);
  }
  const cl = { id: ids.c, name: 'm-c', image: 'base:latest', kind: 'container' };
  assert.equal(value(text, 'isola_instance_health_status', { ...cl, status: 'healthy' }), 1, text);
  assert.equal(value(text, 'isola_instance_running', cl), 1);
  assert.equal(value(text, 'isola_instance_memory_limit_bytes', cl), 64 * 1024 * 1024);
  assert.ok((value(text, 'isola_instance_memory_bytes', cl) ?? 0) > 0);
  assert.ok((value(text, 'isola_instance_cpu_seconds_total', cl) ?? 0) > 0);
  assert.ok((value(text, 'isola_instance_pids', cl) ?? 0) >= 1);
  assert.ok((value(text, 'isola_instance_isolation_overhead_bytes', cl) ?? 0) > 0, 'conmon\'s memory');
  const written = value(text, 'isola_instance_block_write_bytes_total', cl);
  assert.notEqual(written, undefined, 'the block figures are there');
  if (hostCountsBlockIo()) assert.ok((written ?? 0) >= 8 * 1024 * 1024, `the 8 MiB written with fsync: ${written}`);
  assert.notEqual(value(text, 'isola_instance_network_receive_bytes_total', cl), undefined);
  assert.equal(value(text, 'isola_instance_restarts_total', cl), 0);

  const vl = { id: ids.vm, name: 'm-vm', image: 'base:latest', kind: 'vm' };
  assert.equal(value(text, 'isola_instance_running', vl), 1);
  assert.ok((value(text, 'isola_instance_memory_limit_bytes', vl) ?? 0) > 0, 'the guest\'s RAM');
  assert.ok((value(text, 'isola_instance_isolation_overhead_bytes', vl) ?? 0) > 1024 * 1024, 'QEMU\'s own memory');
  assert.ok((value(text, 'isola_instance_block_read_bytes_total', vl) ?? 0) > 0, 'the guest read its root disk');
  assert.ok((value(text, 'isola_instance_cpu_seconds_total', vl) ?? 0) > 0);

  assert.equal(value(text, 'isola_instances', { kind: 'container', state: 'running' }), 1);
  assert.equal(value(text, 'isola_instances', { kind: 'vm', state: 'running' }), 1);
  assert.equal(value(text, 'isola_instances', { kind: 'hybrid', state: 'running' }), 0);
  assert.match(text, /^isola_scrape_stats_failures 0$/m);
  assert.match(text, /^isola_serve_process_resident_memory_bytes \d+/m);

  const check = await runCmd('promtool', ['check', 'metrics'], { input: text });
  assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
  assert.equal(`${check.stdout}${check.stderr}`.trim(), '');

  // Over TCP the bearer token is needed, for /metrics as for the rest.
  const anon = await getText({ host: '127.0.0.1', port, path: '/metrics' });
  assert.equal(anon.status, 401);
});

test('a real Prometheus scrapes isola serve on loopback (bearer token) and answers queries', async () => {
  const dir = path.join(fx.root, 'prometheus');
  fs.mkdirSync(dir);
  const webPort = await freePort();
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(config, [
    'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: isola',
    `    authorization: { credentials_file: ${JSON.stringify(tokenFile)} }`,
    `    static_configs: [{ targets: ["127.0.0.1:${port}"] }]`,
    '',
  ].join('\n'));
  let log = '';
  const prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(prom);
  prom.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const r = await getText({ host: '127.0.0.1', port: webPort, path: `/api/v1/query?query=${encodeURIComponent(q)}` }).catch(() => null);
    if (!r || r.status !== 200) return [];
    return (JSON.parse(r.body) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  };
  let limit: Awaited<ReturnType<typeof query>> = [];
  for (let i = 0; i < 120 && limit.length === 0; i++) {
    await sleep(500);
    limit = await query('isola_instance_memory_limit_bytes{name="m-c"}');
  }
  assert.equal(limit.length, 1, `Prometheus has no isola figures: ${log}`);
  assert.equal(limit[0]?.value[1], String(64 * 1024 * 1024));
  assert.equal(limit[0]?.metric.kind, 'container');
  const up = await query('up{job="isola"}');
  assert.equal(up[0]?.value[1], '1');
  const perKind = await query('sum by (kind) (isola_instances{state="running"})');
  assert.deepEqual(Object.fromEntries(perKind.map((r) => [r.metric.kind, r.value[1]])), { container: '1', vm: '1', hybrid: '0' });
  await stopChild(prom);
});

test('nothing left on the host once the instances are removed', async () => {
  const rm = await isola(fx.root, ['rm', '-f', 'm-c', 'm-vm']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(hostLeftovers(fx), []);
});
