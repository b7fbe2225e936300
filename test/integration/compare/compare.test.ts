import { test, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, REPO, hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { parseMeasured } from '../../../src/advise/measured.js';

/**
 * `isola compare` end to end through the real CLI, on containers only (quick, small run counts:
 * the VM kinds cost minutes under TCG and are covered by the same scenario bodies). Tests never
 * assert timings.
 */
let fx: Fixture;
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-compare-out-'));

async function ids(root: string): Promise<string[]> {
  const r = await isola(root, ['ps', '-a', '--json']);
  return (JSON.parse(r.stdout || '[]') as { id: string }[]).map((x) => x.id);
}

function liveProcessesFor(root: string): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(root) && /conmon|qemu-system|runc/.test(cmd)) out.push(`${p} ${cmd.slice(0, 120)}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

after(async () => {
  // Whatever a failed test left: remove it through isola, then the data root.
  if (fx) {
    const left = await ids(fx.root).catch(() => []);
    if (left.length) await isola(fx.root, ['rm', '-f', ...left]);
    await fx.dispose();
  }
  fs.rmSync(out, { recursive: true, force: true });
});

test('compare --quick --kinds container writes the table, JSON every reader accepts, and HTML; nothing left running', { timeout: 300_000 }, async () => {
  fx = await makeFixture();
  const json = path.join(out, 'r.json');
  const html = path.join(out, 'r.html');
  const r = await isola(fx.root, ['compare', '--quick', '--kinds', 'container', '--runs', '2', '--json', json, '--html', html, '--density-budget', '256m'], { timeoutMs: 280_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /startup: first output/);
  assert.match(r.stdout, /verdict: container/);
  assert.match(r.stdout, /What this host showed:\n {2}Startup to the first output: a container /);
  assert.doesNotMatch(r.stdout, /does not hold|holds here/);
  assert.match(r.stderr, /startup: container launch/, 'progress goes to stderr');
  const measured = parseMeasured(fs.readFileSync(json, 'utf8'), json);
  const byId = new Map(measured.result.metrics.map((m) => [m.id, m]));
  for (const id of ['startup_ready_ms', 'startup_init_ms', 'startup_first_output_ms', 'startup_parallel_ms', 'memory_overhead_bytes', 'memory_host_cost_bytes', 'disk_image_bytes', 'disk_instance_bytes', 'cpu_overhead_ratio', 'net_rtt_p50_us', 'net_rtt_p99_us', 'io_seq_ratio', 'io_rand_ratio', 'io_shared_seq_ratio', 'io_shared_rand_ratio', 'density_marginal_bytes'] as const) {
    const m = byId.get(id);
    assert.ok(m, `metric ${id} is in the JSON`);
    assert.ok(m.kinds.container, `${id} was measured for container: ${JSON.stringify(m.notMeasured)}`);
    assert.ok(m.kinds.container.samples.length >= 1);
  }
  assert.equal(byId.get('startup_first_output_ms')?.kinds.container?.n, 2);
  // Network: four times the runs, each a connection timed by isola-bench rr with the client and
  // the echo server on one CPU, runs alternating over the CPUs; p99 of all round trips pooled.
  const net = byId.get('net_rtt_p50_us');
  assert.equal(net?.kinds.container?.n, 8);
  assert.equal(net?.kinds.native?.n, 8);
  const p99 = byId.get('net_rtt_p99_us')?.kinds.container;
  assert.equal(p99?.n, 8);
  assert.match(p99?.statistic ?? '', /^p99 of the 8000 observations of 8 runs pooled/);
  assert.ok((p99?.median ?? 0) >= (net?.kinds.container?.median ?? Infinity), 'the pooled p99 is at least the p50');
  const cpuOfRun = (net?.extra as { cpuOfRun?: Record<string, number[]> } | undefined)?.cpuOfRun;
  assert.equal(new Set(cpuOfRun?.container).size, Math.min(2, os.availableParallelism()), `runs over the CPUs: ${JSON.stringify(cpuOfRun)}`);
  assert.match((net?.notes ?? []).join(' '), /isola-bench rr/);
  assert.ok((net?.kinds.container?.median ?? 0) > 0 && (net?.kinds.container?.median ?? Infinity) < 10_000);
  // Shared folder: the long reads in --quick too. Sequential reads: the median of 3 where O_DIRECT
  // reaches the disk with nothing caching it (native, container).
  assert.equal((byId.get('io_shared_seq_ratio')?.extra as { fileMiB?: number } | undefined)?.fileMiB, 64);
  for (const id of ['io_seq_ratio', 'io_shared_seq_ratio'] as const) {
    assert.deepEqual((byId.get(id)?.extra as { seqReadsPerRound?: unknown } | undefined)?.seqReadsPerRound, { native: 3, container: 3 }, id);
  }
  assert.ok(byId.get('startup_first_output_ms')?.verdict?.container);
  // Two launches are too few for a verdict: not comparable, and it says why.
  assert.equal(byId.get('startup_first_output_ms')?.verdictStatus?.container, 'not-comparable');
  assert.equal(byId.get('startup_first_output_ms')?.verdictReason?.container, 'too-few-samples');
  // Memory: one reading per separate probe instance, three per kind.
  assert.equal(measured.result.context.probesPerKind, 3);
  assert.equal(byId.get('memory_host_cost_bytes')?.kinds.container?.n, 3);
  assert.equal(new Set((byId.get('memory_host_cost_bytes')?.extra as { instances?: { container?: string[] } } | undefined)?.instances?.container).size, 3);
  assert.match(byId.get('memory_host_cost_bytes')?.sample ?? '', /one idle instance/);
  // Portability: the image pushed to a registry on loopback and pulled into an empty data root.
  for (const id of ['portability_artifact_bytes', 'portability_transfer_ms', 'portability_receive_start_ms'] as const) {
    assert.ok(byId.get(id)?.kinds.container, `${id}: ${JSON.stringify(byId.get(id)?.notMeasured)}`);
  }
  assert.ok((measured.result.summary ?? []).some((x) => x.section === 'startup'));
  assert.equal(measured.result.context.kinds?.vm?.measured ?? false, false);
  assert.ok(measured.result.context.host.cores >= 1);
  assert.ok(fs.readFileSync(html, 'utf8').includes('<svg class="chart"'));
  // The claims are named by what they say, not by the document isola takes them from.
  assert.equal(measured.result.version, 3);
  const density = byId.get('density_marginal_bytes')?.extra as { exampleServer?: unknown; container?: { sizedOnExampleServer?: unknown } } | undefined;
  assert.ok(density?.exampleServer, 'density names the example server');
  assert.equal(typeof density?.container?.sizedOnExampleServer, 'number');
  assert.equal(typeof (density?.container as { sizedOnThisHost?: unknown } | undefined)?.sizedOnThisHost, 'number', 'the host\'s own ceiling');
  assert.match(r.stdout, /claimed: VM\s+claimed: container/);
  const outputs: [string, string][] = [['table', r.stdout], ['progress', r.stderr], ['JSON', fs.readFileSync(json, 'utf8').replace(/"bootstrapSeed"/g, '')], ['HTML', fs.readFileSync(html, 'utf8')]];
  for (const [what, text] of outputs) assert.doesNotMatch(text, /seed/i, `the ${what} names the claims' source document`);
  assert.deepEqual(await ids(fx.root), [], 'no instance left in isola ps -a');
  assert.deepEqual(hostLeftovers(fx), []);
  assert.deepEqual(liveProcessesFor(fx.root), []);
});

test('--image --http: the application as the workload, the load from wrk against the instance, app rows in the table, JSON and HTML', { timeout: 300_000 }, async () => {
  fx ??= await makeFixture();
  const built = await isola(fx.root, ['build', '-t', 'hello-web:1', path.join(REPO, 'examples', 'hello-web')], { timeoutMs: 120_000 });
  assert.equal(built.code, 0, built.stderr);
  const json = path.join(out, 'app.json');
  const html = path.join(out, 'app.html');
  const r = await isola(fx.root, ['compare', '--quick', '--kinds', 'container', '--runs', '3', '--image', 'hello-web:1', '--http', '8080/', '--json', json, '--html', html, '--density-budget', '256m'], { timeoutMs: 280_000 });
  assert.equal(r.code, 0, r.stderr);
  const res = parseMeasured(fs.readFileSync(json, 'utf8'), json).result;
  assert.equal(res.context.app?.image, 'hello-web:1');
  assert.equal(res.context.app?.load?.tool, 'wrk');
  assert.match(res.context.app?.load?.version ?? '', /\d/);
  assert.equal(res.context.probeImage, 'base:latest');
  const byId = new Map(res.metrics.map((m) => [m.id, m]));
  for (const id of ['app_ready_ms', 'app_rps', 'app_latency_p50_ms', 'app_latency_p99_ms', 'app_memory_bytes'] as const) {
    const m = byId.get(id);
    assert.equal(m?.kinds.container?.n, 3, `${id}: ${JSON.stringify(m?.notMeasured)}`);
    assert.ok((m?.kinds.container?.median ?? 0) > 0, id);
  }
  // The application's startup is judged against the comparison's startup claim.
  assert.equal(byId.get('app_ready_ms')?.claim?.container, '< 1 s');
  assert.ok(byId.get('app_ready_ms')?.verdictStatus?.container);
  // The disk rows are the application's image.
  assert.ok(byId.get('disk_image_bytes')?.kinds.container);
  for (const label of ['app: start to first response', 'app: requests per second', 'app: latency p99 under load', 'app: host memory while serving']) assert.ok(r.stdout.includes(label), label);
  assert.match(r.stdout, /workloads: the application hello-web:1 \(HTTP :8080\/, wrk /);
  assert.match(fs.readFileSync(html, 'utf8'), /data-metric="app_rps"/);
  assert.deepEqual(await ids(fx.root), [], 'no instance left in isola ps -a');
  assert.deepEqual(hostLeftovers(fx), []);
  assert.deepEqual(liveProcessesFor(fx.root), []);
});

test('the HTML report renders its charts in a real headless browser with no console errors', { timeout: 120_000 }, async (t) => {
  const html = path.join(out, 'r.html');
  if (!fs.existsSync(html)) return t.skip('the end-to-end test did not produce a report');
  if (!fs.existsSync('/usr/bin/chromium')) return t.skip('Debian\'s chromium is not installed at /usr/bin/chromium');
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(`file://${html}`);
    const charts = await page.locator('svg.chart').count();
    assert.ok(charts >= 10, `expected a chart per metric, got ${charts}`);
    const dots = await page.locator('svg.chart circle.sample').count();
    assert.ok(dots > charts, 'charts have sample dots');
    const box = await page.locator('svg.chart').first().boundingBox();
    assert.ok(box && box.width > 100 && box.height > 20, 'the first chart has a visible size');
    assert.ok(await page.locator('ul.summary li').count() >= 1, 'the summary of what this host showed is on top');
    // Verdict colours follow the meaning: "not comparable" grey, never the red of "worse".
    const nc = page.locator('td.verdict.not-comparable').first();
    if (await nc.count()) assert.equal(await nc.evaluate((e) => getComputedStyle(e).color), 'rgb(102, 102, 102)');
    const startupLog = await page.locator('svg.chart[data-metric="startup_first_output_ms"]').getAttribute('data-scale');
    assert.equal(startupLog, 'log', 'startup on a log scale');
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [], 'the report needs no network');
  } finally {
    await browser.close();
  }
});

test('Ctrl-C during compare removes every instance it started', { timeout: 180_000 }, async () => {
  fx ??= await makeFixture();
  const child = spawn(process.execPath, [BIN, 'compare', '--kinds', 'container', '--runs', '5'], { env: { ...process.env, ISOLA_ROOT: fx.root }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Wait until instances exist (the idle probe started and memory is being sampled), then interrupt.
  const deadline = Date.now() + 120_000;
  while (!/memory: container instance|cpu: /.test(stderr) && Date.now() < deadline) await sleep(100);
  assert.ok((await ids(fx.root)).length >= 1, `compare had started an instance: ${stderr}`);
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted; every instance compare started was removed/);
  assert.deepEqual(await ids(fx.root), []);
  assert.deepEqual(hostLeftovers(fx), []);
  assert.deepEqual(liveProcessesFor(fx.root), []);
});

test('bad input: one line naming the problem and the fix, nothing left running', { timeout: 180_000 }, async () => {
  fx ??= await makeFixture();
  const cases: { args: string[]; re: RegExp }[] = [
    { args: ['compare', '--kinds', 'container,lxc'], re: /unknown kind "lxc" in --kinds; use a comma-separated list/ },
    { args: ['compare', '--runs', '1'], re: /invalid --runs "1"/ },
    { args: ['compare', '--density-budget', '12q'], re: /invalid --density-budget "12q"/ },
    { args: ['compare', '--json', '/nonexistent-dir/x.json'], re: /cannot write --json \/nonexistent-dir\/x.json: its folder does not exist; give a path/ },
    { args: ['compare', '--html', out], re: /--html .* is a directory/ },
    { args: ['compare', '--image', 'nosuch:1'], re: /nosuch/ },
    { args: ['compare', '--http', '8080'], re: /--http needs the application's image; give --image IMG --http PORT\[\/PATH\]/ },
    { args: ['compare', '--image', 'base', '--http', '80', '--tcp', '81'], re: /--http and --tcp were both given/ },
    { args: ['compare', '--image', 'base', '--http', '0/x'], re: /invalid --http port "0"; give a port from 1 to 65535/ },
    { args: ['compare', '--image', 'base', '--tcp', 'http'], re: /invalid --tcp port "http"/ },
    { args: ['compare', '--image', 'nosuch:1', '--http', '8080'], re: /nosuch/ },
  ];
  for (const c of cases) {
    const r = await isola(fx.root, c.args, { timeoutMs: 60_000 });
    assert.equal(r.code, 125, `${c.args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, c.re);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('isola:')).length, 1, r.stderr);
  }
  // An image without a shell or the probe programs: say what is missing.
  const empty = path.join(out, 'empty.tar');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-empty-'));
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'hi\n');
  const tar = spawn('tar', ['-C', dir, '-cf', empty, 'hello.txt']);
  await new Promise((r) => tar.on('close', r));
  assert.equal((await isola(fx.root, ['import', empty, 'noshell:1'])).code, 0);
  const r = await isola(fx.root, ['compare', '--quick', '--kinds', 'container', '--image', 'noshell:1'], { timeoutMs: 120_000 });
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /image noshell:1 lacks sh \(the probe commands\), cat .*nc .*awk/);
  // A budget smaller than one idle instance.
  const b = await isola(fx.root, ['compare', '--quick', '--kinds', 'container', '--density-budget', '100k'], { timeoutMs: 120_000 });
  assert.equal(b.code, 125, b.stderr);
  assert.match(b.stderr, /--density-budget 100 KiB is smaller than one idle instance here \(container .*\); give at least --density-budget \d+m/);
  assert.deepEqual(await ids(fx.root), []);
  assert.deepEqual(hostLeftovers(fx), []);
  assert.deepEqual(liveProcessesFor(fx.root), []);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--kinds naming a kind this host cannot run says why and measures the rest', { timeout: 240_000 }, async () => {
  // Hide QEMU so that the VM kind is unavailable whatever this host offers.
  fx ??= await makeFixture();
  const json = path.join(out, 'skip.json');
  const r = await isola(fx.root, ['compare', '--quick', '--kinds', 'container,vm', '--runs', '2', '--json', json], { env: { ISOLA_QEMU: '/nonexistent/qemu-system-x86_64' }, timeoutMs: 220_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /skipping vm: QEMU \(\/nonexistent\/qemu-system-x86_64\) is not installed/);
  assert.match(r.stdout, /vm not measured: QEMU/);
  const res = parseMeasured(fs.readFileSync(json, 'utf8'), json).result;
  assert.equal(res.context.kinds?.vm?.measured, false);
  const startup = res.metrics.find((m) => m.id === 'startup_first_output_ms');
  assert.ok(startup?.kinds.container);
  assert.equal(startup?.verdictStatus?.vm, 'not-comparable');
  assert.equal(startup?.verdictReason?.vm, 'not-measured');
  assert.deepEqual(await ids(fx.root), []);
});
