import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { hostLeftovers, isola, makeFixture, REPO, type CliResult, type Fixture } from '../../helpers/fixture.js';
import { assertEngineError } from '../../helpers/engine-error.js';
import { withLock } from '../../../src/util/lock.js';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `isola compose` against real instances: the example stack (db as a VM, web as containers)
 * through every verb, a re-run of up that recreates only what changed, a failed up that leaves
 * the stack as it was, bad input refused with one line, and down leaving nothing on the host.
 */
let fx: Fixture;
const FILE = path.join(REPO, 'examples', 'stack', 'compose.yaml');
const P = `t${process.pid}`;
const compose = (args: string[], env: NodeJS.ProcessEnv = {}, file = FILE, project = P) => isola(fx.root, ['compose', '-f', file, '-p', project, ...args], { env, timeoutMs: 300_000 });

interface PsRow { id: string; name: string; kind: string; state: string; service: string; replica: number; ports: string[]; health: string | null; labels: Record<string, string> }
async function ps(all = true, project = P, file = FILE): Promise<PsRow[]> {
  const r = await compose(['ps', '--json', ...(all ? ['-a'] : [])], {}, file, project);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PsRow[];
}

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    s.on('connect', () => s.write(`GET ${urlPath} HTTP/1.0\r\nHost: x\r\n\r\n`));
    s.on('data', (d) => (data += d.toString()));
    // A CGI's own headers end with a bare \n\n (busybox httpd passes them on as they are).
    s.on('end', () => resolve(data.split(/\r?\n\r?\n/)[1] ?? ''));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
  });
}

const hostPort = (row: PsRow | undefined): number => Number(/:(\d+)->80\/tcp/.exec(row?.ports[0] ?? '')?.[1]);
const ids = (rows: PsRow[], service: string) => rows.filter((r) => r.service === service).map((r) => `${r.replica}:${r.id}`);

describe('isola compose', { timeout: 1_500_000 }, () => {
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await compose(['down', '-v']).catch(() => undefined);
    await fx.dispose();
  });

  test('up -d: the VM database first (healthy), then the web replicas, which reach it by its service name', async () => {
    const r = ok(await compose(['up', '-d', '--wait']));
    assert.match(r.stdout, /Waiting for db \(service_healthy\)/);
    const rows = await ps();
    assert.deepEqual(rows.map((x) => [x.name, x.service, x.replica, x.kind, x.state]), [
      [`${P}-db-1`, 'db', 1, 'vm', 'running'], [`${P}-web-1`, 'web', 1, 'container', 'running'], [`${P}-web-2`, 'web', 2, 'container', 'running'],
    ]);
    assert.equal(rows[0]?.health, 'healthy');
    const labels = rows[1]?.labels ?? {};
    assert.equal(labels['com.docker.compose.project'], P);
    assert.equal(labels['com.docker.compose.service'], 'web');
    assert.equal(labels['com.docker.compose.container-number'], '1');
    assert.match(labels['com.docker.compose.config-hash'] ?? '', /^[0-9a-f]{64}$/);
    // Docker's ps filters work on the same labels.
    const filtered = ok(await isola(fx.root, ['ps', '-q', '--filter', 'label=com.docker.compose.service=web']));
    assert.equal(filtered.stdout.trim().split('\n').length, 2);
    for (const row of rows.slice(1)) {
      const body = await httpGet(hostPort(row), '/cgi-bin/hello');
      assert.match(body, /: hello from the database$/m, `web replica ${row.name} reached db (a VM) by name`);
    }
  });

  test('logs: each line prefixed by its replica; exec in a container and in the VM', async () => {
    const logs = ok(await compose(['logs', 'web']));
    assert.match(logs.stdout + logs.stderr, /^web-1 \| .*\S/m);
    assert.match(logs.stdout + logs.stderr, /^web-2 \| .*\S/m);
    assert.doesNotMatch(logs.stdout + logs.stderr, /^db-1/m, 'only the services named');
    const e = await compose(['exec', '--index', '2', 'web', 'sh', '-c', 'echo in $(hostname); exit 3']);
    assert.equal(e.code, 3, e.stderr);
    assert.match(e.stdout, /^in /);
    const vm = ok(await compose(['exec', 'db', 'cat', '/data/www/index.html']));
    assert.equal(vm.stdout, 'hello from the database\n');
    assertEngineError(await compose(['exec', '--index', '9', 'web', 'true']), /service web has no replica 9/);
  });

  test('up --scale, then up after an edit: only what changed is recreated', async () => {
    const before = await ps();
    ok(await compose(['up', '-d', '--scale', 'web=3']));
    const scaled = await ps();
    assert.deepEqual(ids(scaled, 'web').slice(0, 2), ids(before, 'web'), 'the replicas there are kept');
    assert.equal(scaled.filter((r) => r.service === 'web' && r.state === 'running').length, 3);
    assert.deepEqual(ids(scaled, 'db'), ids(before, 'db'));
    // The environment changes the database's configuration (interpolation): db alone is recreated, web-3 goes (replicas: 2).
    const r = ok(await compose(['up', '-d'], { DB_GREETING: 'changed' }));
    // A changed service is rolled (a new replica, healthy, then the old one goes): docs/COMPOSE.md.
    assert.match(r.stdout, /Service db Rolling 1 replica\(s\)/);
    assert.match(r.stdout, /Instance .*-db-1 Updated/);
    const after = await ps();
    assert.notDeepEqual(ids(after, 'db'), ids(before, 'db'));
    assert.deepEqual(ids(after, 'web'), ids(before, 'web'));
    assert.equal(ok(await compose(['exec', 'db', 'cat', '/data/www/index.html'])).stdout, 'changed\n');
    // The same again: nothing to do.
    const same = ok(await compose(['up', '-d'], { DB_GREETING: 'changed' }));
    assert.doesNotMatch(same.stdout, /Rolling|Updated|Recreated|Created|Removed/);
  });

  test('stop, start, restart, images, config, pull', async () => {
    ok(await compose(['stop', 'web']));
    assert.deepEqual((await ps()).filter((r) => r.service === 'web').map((r) => r.state), ['exited', 'exited']);
    assert.equal((await ps(false)).length, 1, 'ps without -a: running ones');
    ok(await compose(['start', 'web']));
    assert.deepEqual((await ps()).filter((r) => r.service === 'web').map((r) => r.state), ['running', 'running']);
    ok(await compose(['restart', 'web']));
    assert.deepEqual((await ps()).filter((r) => r.service === 'web').map((r) => r.state), ['running', 'running']);
    const images = JSON.parse(ok(await compose(['images', '--json'])).stdout) as { service: string; image: string }[];
    assert.deepEqual(images.map((i) => [i.service, i.image]), [['db', 'base:latest'], ['web', 'base:latest'], ['web', 'base:latest']]);
    const config = parse(ok(await compose(['config'], { DB_GREETING: 'x' })).stdout) as { services: Record<string, { 'x-isola-kind': string; environment?: Record<string, string> }> };
    assert.equal(config.services.db?.['x-isola-kind'], 'vm');
    assert.equal(config.services.db?.environment?.GREETING, 'x');
    assert.match(ok(await compose(['pull'])).stdout, /base is built into isola, nothing to pull/);
  });

  test('bad input leaves the running stack as it was: unknown --scale service, a schema failure, a cycle, a port conflict', async () => {
    const before = await ps();
    assertEngineError(await compose(['up', '-d', '--scale', 'nope=2']), /--scale nope=2: no such service "nope"/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-bad-'));
    try {
      const bad = (text: string) => {
        const f = path.join(dir, 'compose.yaml');
        fs.writeFileSync(f, text);
        return compose(['up', '-d'], {}, f);
      };
      assertEngineError(await bad('services:\n  db:\n    image: base\n    imagee: x\n'), /compose\.yaml:4:5: services\.db\.imagee is not allowed here .*rule #\/definitions\/service\/additionalProperties/);
      assertEngineError(await bad('services:\n  db: {image: base, depends_on: [web]}\n  web: {image: base, depends_on: [db]}\n'), /depends_on has a cycle: db -> web -> db/);
      assertEngineError(await bad('services:\n  db: {image: base, ports: ["18080:80"]}\n  web: {image: base, ports: ["18080:81"]}\n'), /services db and web both publish host port 18080\/tcp/);
      assertEngineError(await bad('services:\n  db: {image: base, runtime: vm, x-isola-kind: container}\n'), /runtime says vm while x-isola-kind says container/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const same = (rows: PsRow[]) => rows.map((r) => [r.id, r.name, r.state]);
    assert.deepEqual(same(await ps()), same(before));
  });

  test('a failed up removes what it made: a port taken on the host, found while the stack comes up', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-fail-'));
    const blocker = net.createServer().listen(0, '0.0.0.0');
    await new Promise((r) => blocker.once('listening', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const f = path.join(dir, 'compose.yaml');
      fs.writeFileSync(f, `services:\n  first: {image: base, command: sleep 600}\n  second: {image: base, command: sleep 600, depends_on: [first], ports: ["${taken}:80"]}\n`);
      const r = await compose(['up', '-d'], {}, f, `${P}f`);
      assertEngineError(r, new RegExp(`${taken}`));
      assert.deepEqual(await ps(true, `${P}f`, f), [], 'first was removed again');
      const nets = JSON.parse(ok(await isola(fx.root, ['network', 'ls', '--json'])).stdout) as { Name: string }[];
      assert.ok(!nets.some((n) => n.Name === `${P}f_default`), 'its network too');
    } finally {
      blocker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('build, up --no-start, then up attached, of a stack whose image is built from a Dockerfile', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-build-'));
    const project = `${P}b`;
    try {
      fs.mkdirSync(path.join(dir, 'app'));
      fs.writeFileSync(path.join(dir, 'app', 'Dockerfile'), 'FROM base\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n');
      fs.writeFileSync(path.join(dir, 'app', 'hello.txt'), 'built\n');
      const f = path.join(dir, 'compose.yaml');
      fs.writeFileSync(f, 'services:\n  app:\n    build: ./app\n');
      assert.match(ok(await compose(['build'], {}, f, project)).stdout, /Building app/);
      ok(await compose(['up', '--no-start'], {}, f, project));
      assert.deepEqual((await ps(true, project, f)).map((r) => [r.name, r.state]), [[`${project}-app-1`, 'created']]);
      // Attached (no -d): the replicas' output, prefixed, until they exit.
      const attached = ok(await compose(['up'], {}, f, project));
      assert.match(attached.stdout, /^app-1 \| built$/m);
      assert.deepEqual((await ps(true, project, f)).map((r) => [r.state]), [['exited']]);
      ok(await compose(['down'], {}, f, project));
      assert.deepEqual(await ps(true, project, f), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('down -v waits for a rollout in progress; then instances, network and named volume gone; nothing left on the host', async () => {
    // This process holds the stack's rollout lock as a `compose up` replacing replicas would.
    let downing: Promise<CliResult> | undefined;
    await withLock(path.join(fx.paths.run, `compose-rollout-${P}`), async () => {
      downing = compose(['down', '-v']);
      await sleep(3000);
      assert.ok((await ps()).length > 0, 'down removed replicas while a rollout held the stack');
    });
    const r = ok(await (downing as Promise<CliResult>));
    assert.match(r.stderr, /waiting for the rollout of stack .* to finish/);
    assert.match(r.stdout, new RegExp(`Volume ${P}_dbdata Removed`));
    assert.deepEqual(await ps(), []);
    const vols = ok(await isola(fx.root, ['volume', 'ls', '-q'])).stdout.trim();
    assert.equal(vols, '');
    const nets = JSON.parse(ok(await isola(fx.root, ['network', 'ls', '--json'])).stdout) as { Name: string }[];
    assert.deepEqual(nets.map((n) => n.Name), ['bridge', 'none']);
    assert.deepEqual(hostLeftovers(fx), []);
  });
});
