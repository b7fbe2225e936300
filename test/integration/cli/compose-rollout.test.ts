import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, type CliResult, type Fixture } from '../../helpers/fixture.js';
import { freePort } from '../../helpers/registry.js';
import { assertEngineError } from '../../helpers/engine-error.js';

/**
 * Rolling updates of a Compose service (docs/COMPOSE.md, "Update and rollback"), against real
 * containers: two images built here (app:v1, app:v2), a 2-replica web service behind one fixed
 * host port polled on loopback during the rollout (no failed request), a new revision whose
 * healthcheck fails (rolled back automatically), compose rollback, and the revisions kept.
 */
let fx: Fixture;
let dir: string;
let FILE: string;
const P = `r${process.pid}`;
const compose = (args: string[]) => isola(fx.root, ['compose', '-f', FILE, '-p', P, ...args], { timeoutMs: 300_000 });

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

/** One HTTP/1.0 GET on loopback, a fresh connection each time: the body, or an error. */
function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    s.on('connect', () => s.write('GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n'));
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => (/^HTTP\/1\.[01] 200/.test(data) ? resolve(data.split(/\r?\n\r?\n/)[1] ?? '') : reject(new Error(`not 200: ${data.split('\n')[0] ?? '(nothing)'}`))));
    s.on('error', reject);
    s.setTimeout(5_000, () => s.destroy(new Error('timeout')));
  });
}

let PORT = 0;
function writeFile(image: string, health = 'wget -q -O- http://127.0.0.1/index.html'): void {
  fs.writeFileSync(FILE, `services:
  web:
    image: ${image}
    command: httpd -f -p 80 -h /www
    init: true
    ports: ["127.0.0.1:${PORT}:80"]
    healthcheck: {test: ${JSON.stringify(health)}, interval: 1s, retries: 2}
    deploy: {replicas: 2}
`);
}

interface PsRow { id: string; name: string; image: string; state: string; replica: number; ports: string[] }
async function ps(): Promise<PsRow[]> {
  return JSON.parse(ok(await compose(['ps', '--json', '-a'])).stdout) as PsRow[];
}
interface Rev { revision: number; current: boolean; image: string; digest: string }
async function revisions(): Promise<Rev[]> {
  return JSON.parse(ok(await compose(['revisions', 'web', '--json'])).stdout) as Rev[];
}

describe('isola compose: rolling update and rollback', { timeout: 900_000 }, () => {
  before(async () => {
    fx = await makeFixture();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-rollout-'));
    FILE = path.join(dir, 'compose.yaml');
    PORT = await freePort();
    for (const v of ['v1', 'v2']) {
      const ctxDir = path.join(dir, v);
      fs.mkdirSync(ctxDir);
      fs.writeFileSync(path.join(ctxDir, 'index.html'), `app ${v}\n`);
      fs.writeFileSync(path.join(ctxDir, 'Dockerfile'), 'FROM base\nCOPY index.html /www/index.html\n');
      ok(await isola(fx.root, ['build', '-t', `app:${v}`, ctxDir], { timeoutMs: 300_000 }));
    }
  });
  after(async () => {
    await compose(['down']).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    await fx.dispose();
  });

  test('up: two replicas share one fixed port; no previous revision to roll back to', async () => {
    writeFile('app:v1');
    ok(await compose(['up', '-d', '--wait']));
    const rows = await ps();
    assert.deepEqual(rows.map((r) => [r.replica, r.state, r.image]), [[1, 'running', 'app:v1'], [2, 'running', 'app:v1']]);
    assert.ok(rows.every((r) => r.ports.includes(`127.0.0.1:${PORT}->80/tcp`)), JSON.stringify(rows.map((r) => r.ports)));
    assert.equal(await get(PORT), 'app v1\n');
    assertEngineError(await compose(['rollback', 'web']), /service web has no previous revision/);
    assert.equal((await revisions()).length, 1);
  });

  test('up with a new image rolls the replicas one at a time; a client polling the port sees no failed request', async () => {
    writeFile('app:v2');
    const seen = new Map<string, number>();
    const failures: string[] = [];
    let done = false;
    let polls = 0;
    const poller = (async () => {
      const end = Date.now() + 240_000;
      while (!done && Date.now() < end) {
        polls++;
        try {
          const body = await get(PORT);
          seen.set(body, (seen.get(body) ?? 0) + 1);
        } catch (e) {
          failures.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = Date.now();
    const r = await compose(['up', '-d']);
    const ms = Date.now() - t0;
    done = true;
    await poller;
    ok(r);
    console.log(`rolling update of 2 replicas: ${ms} ms, ${polls} requests polled, ${failures.length} failed, bodies ${JSON.stringify([...seen])}`);
    assert.deepEqual(failures, [], 'no failed request during the rollout');
    assert.ok((seen.get('app v1\n') ?? 0) > 0 && (seen.get('app v2\n') ?? 0) > 0, 'both revisions answered during the rollout');
    // New replica 1 ready before old replica 1 stopped, then replica 2.
    const order = r.stdout.split('\n').filter((l) => /Started \(new revision\)|Stopped \(replaced\)/.test(l));
    assert.deepEqual(order.map((l) => l.replace(/^Instance (\S+) .*\((.*)\)$/, '$1 $2').replace(/^[0-9a-f]{12}_/, '')), [`${P}-web-1 new revision`, `${P}-web-1 replaced`, `${P}-web-2 new revision`, `${P}-web-2 replaced`]);
    assert.deepEqual((await ps()).map((x) => [x.replica, x.state, x.image]), [[1, 'running', 'app:v2'], [2, 'running', 'app:v2']]);
    assert.equal(await get(PORT), 'app v2\n');
    const revs = await revisions();
    assert.deepEqual(revs.map((x) => [x.revision, x.image, x.current]), [[1, 'app:v1', false], [2, 'app:v2', true]]);
    assert.notEqual(revs[0]?.digest, revs[1]?.digest);
  });

  test('a new revision whose healthcheck fails is rolled back automatically: one line, the old replicas kept', async () => {
    const before = await ps();
    const hostBefore = hostLeftovers(fx).sort();
    writeFile('app:v2', 'exit 1');
    const r = await compose(['up', '-d', '--parallelism', '2']);
    assertEngineError(r, new RegExp(`new replica web-[12] became unhealthy; service web was rolled back to its previous revision`));
    const after = await ps();
    assert.deepEqual(after.map((x) => [x.id, x.state, x.image]), before.map((x) => [x.id, 'running', 'app:v2']), 'the same replicas, running again');
    assert.equal(await get(PORT), 'app v2\n');
    assert.equal((await revisions()).length, 2, 'a failed rollout is no revision');
    assert.deepEqual(hostLeftovers(fx).sort(), hostBefore, 'the host holds what it held before the failed up: nothing of the new replicas');
  });

  test('compose rollback returns to the previous revision, rolled the same way; revisions lists it', async () => {
    writeFile('app:v2');
    const r = ok(await compose(['rollback', 'web']));
    assert.match(r.stdout, /Rolling back from revision 2 to revision 1/);
    assert.deepEqual((await ps()).map((x) => [x.replica, x.state, x.image]), [[1, 'running', 'app:v1'], [2, 'running', 'app:v1']]);
    assert.equal(await get(PORT), 'app v1\n');
    assert.deepEqual((await revisions()).map((x) => [x.revision, x.image, x.current]), [[1, 'app:v1', false], [2, 'app:v2', false], [3, 'app:v1', true]]);
    const table = ok(await compose(['history', 'web'])).stdout;
    assert.match(table, /^REVISION\s+CREATED\s+IMAGE/);
  });

  test('down removes the replicas and the service\'s port', async () => {
    ok(await compose(['down']));
    await assert.rejects(get(PORT));
    assert.deepEqual(hostLeftovers(fx), []);
  });
});
