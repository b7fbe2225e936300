import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { startInProcessApi, type InProcessApi } from '../../helpers/api-server.js';

/**
 * Malformed input at every route: broken and truncated JSON, huge bodies, unknown fields, wrong
 * types, hostile names and paths, slow clients. Every answer is a 4xx (or an empty 2xx list),
 * never a 5xx or a crash; nothing is created; the server answers /_ping afterwards.
 */
let api: InProcessApi;
let sock: string;
const errors: string[] = [];

before(async () => {
  api = await startInProcessApi(() => ({ log: (l) => errors.push(l), limits: { headersTimeoutMs: 400, requestTimeoutMs: 800 } }));
  sock = api.sock;
});
after(async () => {
  await api?.dispose();
});

interface Reply {
  status: number;
  text: string;
}

function call(method: string, p: string, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: p, headers: body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${p}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Raw bytes on a fresh connection; resolves with what came back before the server closed it. */
function raw(bytes: string, opts: { endAfterMs?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(sock);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write(bytes);
    if (opts.endAfterMs !== undefined) setTimeout(() => s.end(), opts.endAfterMs);
    setTimeout(() => s.destroy(), 5000);
  });
}

const HOSTILE = [
  '..', '../../etc/passwd', '%2e%2e%2f%2e%2e%2fetc', 'a%00b', '-rf', '--help', 'x'.repeat(300), '名前', 'a b', 'a;rm -rf /',
  '$(reboot)', '`id`', 'a\nb', 'UPPER', '.hidden', 'a:b:c:d', 'sha256:', '@', '%', '%E0%A4%A',
];

const ROUTES: [string, string][] = [
  ['GET', '/containers/{x}/json'], ['POST', '/containers/{x}/start'], ['POST', '/containers/{x}/stop'], ['POST', '/containers/{x}/restart'],
  ['POST', '/containers/{x}/kill'], ['POST', '/containers/{x}/pause'], ['POST', '/containers/{x}/unpause'], ['POST', '/containers/{x}/rename?name=y'],
  ['POST', '/containers/{x}/wait'], ['POST', '/containers/{x}/attach?stream=1&stdout=1'], ['POST', '/containers/{x}/resize?h=1&w=1'],
  ['GET', '/containers/{x}/logs?stdout=1'], ['GET', '/containers/{x}/top'], ['GET', '/containers/{x}/stats?stream=0'],
  ['HEAD', '/containers/{x}/archive?path=/'], ['GET', '/containers/{x}/archive?path=/'], ['PUT', '/containers/{x}/archive?path=/'],
  ['DELETE', '/containers/{x}'], ['POST', '/containers/{x}/update'], ['POST', '/containers/{x}/exec'], ['POST', '/exec/{x}/start'], ['GET', '/exec/{x}/json'], ['POST', '/exec/{x}/resize?h=1&w=1'],
  ['GET', '/images/{x}/json'], ['POST', '/images/{x}/push'], ['POST', '/images/{x}/tag?repo=ok'], ['DELETE', '/images/{x}'], ['GET', '/images/{x}/get'],
  ['GET', '/images/get?names={x}'], ['POST', '/images/create?fromImage={x}'], ['POST', '/images/base/tag?repo={x}'],
  ['GET', '/volumes/{x}'], ['DELETE', '/volumes/{x}'], ['GET', '/networks/{x}'], ['DELETE', '/networks/{x}'],
  ['GET', '/images/{x}/history'], ['GET', '/containers/{x}/changes'], ['GET', '/containers/{x}/export'],
  ['POST', '/dashboard/plan'],
];

const BODIES: (string | Buffer)[] = [
  '{', '{"Image":', '[]', 'null', '"x"', '12', '{"Image":"base",}', Buffer.from([0xff, 0xfe, 0x00]), '{"Image":{"$ne":1}}',
  '{"__proto__":{"polluted":true},"Image":7}', '{"Image":"base","HostConfig":{"Binds":["../../:/x"]}}',
  '{"Image":"base","HostConfig":{"Runtime":"../../bin/sh"}}', '{"Image":"base","Env":["A"]}', '{"Image":"base","HostConfig":{"Memory":1e400}}',
  '{"Image":"base","Cmd":"x","HostConfig":{"PortBindings":{"99999/tcp":[{"HostPort":"1"}]}}}', '{"Image":"base","Unknown":1,"HostConfig":{"Links":["a"]}}',
  '{"Name":"../x"}', '{"Name":"a b"}', '{"Name":5}', '{"Name":"ok","Driver":"../x"}', '{"Cmd":[]}', '{"Cmd":[1]}', '{"Detach":"yes"}',
];

function acceptable(method: string, r: Reply, what: string): void {
  assert.ok(r.status >= 200 && r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
  if (r.status >= 400 && method !== 'HEAD') {
    const body = JSON.parse(r.text) as { message?: unknown };
    assert.equal(typeof body.message, 'string', `${what}: {"message"}`);
    assert.ok(!(body.message as string).includes('\n') || what.includes('%0A'), `${what}: one line`);
  }
}

function snapshot(): string {
  return JSON.stringify({
    instances: api.engine.instances.list().map((r) => r.id),
    volumes: api.engine.volumes.list().map((v) => v.name),
    networks: api.engine.networks.list().map((n) => n.id),
    images: api.engine.images().list().map((i) => i.ref),
    dirs: fs.readdirSync(api.fx.paths.instances),
  });
}

test('hostile names and paths at every route: 4xx, one-line messages, nothing created', async () => {
  const before = snapshot();
  for (const [method, tpl] of ROUTES) {
    for (const h of HOSTILE) {
      const p = tpl.replace('{x}', /%/.test(h) ? h : encodeURIComponent(h));
      const r = await call(method, p, method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : '{}');
      acceptable(method, r, `${method} ${p}`);
      if (!tpl.startsWith('/images/get') && !tpl.includes('fromImage') && !tpl.includes('repo={x}')) assert.ok(r.status >= 400, `${method} ${p}: ${r.status}`);
    }
  }
  assert.equal(snapshot(), before);
  assert.deepEqual(errors, []);
});

test('malformed, wrong-typed and hostile bodies at every route that takes one: 4xx, nothing created', async () => {
  const before = snapshot();
  const targets = ['/containers/create', '/containers/create?name=..', '/volumes/create', '/networks/create', '/containers/nosuch/exec', '/exec/abc/start', '/images/load', '/containers/nosuch/archive?path=/tmp'];
  for (const t of targets) {
    for (const b of BODIES) {
      // A volume create without a name makes an anonymous volume, as Docker's does: only hostile names here.
      if (t === '/volumes/create' && typeof b === 'string' && b.startsWith('{') && !b.includes('"Name"')) continue;
      const method = t.includes('archive') ? 'PUT' : 'POST';
      const r = await call(method, t, b);
      acceptable(method, r, `${method} ${t} ${String(b).slice(0, 60)}`);
      assert.ok(r.status >= 400, `${t} ${String(b).slice(0, 60)}: ${r.status}`);
    }
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  assert.equal(snapshot(), before);
  assert.deepEqual(errors, []);
});

test('huge and truncated bodies, bad query values, bad filters', async () => {
  const before = snapshot();
  const huge = Buffer.alloc(3 * 1024 * 1024, 0x61);
  for (const t of ['/containers/create', '/volumes/create', '/networks/create']) assert.equal((await call('POST', t, huge)).status, 413, t);
  // A body shorter than its Content-Length: the client gives up; the server stays up.
  await raw('POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Image":"ba', { endAfterMs: 50 });
  for (const q of ['all=maybe', 'limit=x', 'limit=1e99', 'filters=%7B%22status%22%3A5%7D', 'filters=%5B%5D', 'filters=' + 'x'.repeat(5000)]) {
    const r = await call('GET', `/containers/json?${q}`);
    assert.equal(r.status, 400, `${q}: ${r.text}`);
  }
  for (const q of ['since=yesterday', 'until=%00', 'filters=%7B%22nope%22%3A%5B%5D%7D']) assert.equal((await call('GET', `/events?${q}`)).status, 400, q);
  assert.equal((await call('GET', '/v1.2x/info')).status, 404);
  for (const q of ['version=2', 'dockerfile=..%2F..%2Fetc%2Fpasswd', 'dockerfile=%2Fetc%2Fpasswd', 'remote=http%3A%2F%2Fx', 'networkmode=host', 'platform=linux%2Fs390x', 'buildargs=%5B1%5D', 'buildargs=%7B%22a%20b%22%3A%22x%22%7D', 't=NOT..VALID']) {
    const r = await call('POST', `/build?${q}`, '');
    assert.equal(r.status, 400, `build ${q}: ${r.text}`);
  }
  for (const [t, f] of [['containers', '{"nope":[]}'], ['containers', '{"until":["yesterday"]}'], ['images', '{"dangling":["maybe"]}'], ['volumes', '{"until":["1"]}'], ['networks', '{"label":["a"]}'], ['images', '[1]']]) {
    const r = await call('POST', `/${t}/prune?filters=${encodeURIComponent(f as string)}`, '');
    assert.equal(r.status, 400, `${t} prune ${f}: ${r.text}`);
  }
  assert.equal(snapshot(), before);
});

test('malformed HTTP and slow clients are cut off; the server keeps answering', async () => {
  const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
  assert.match(garbage, /^HTTP\/1\.1 400/);
  const bigHeader = await raw(`GET /_ping HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(32 * 1024)}\r\n\r\n`);
  assert.match(bigHeader, /^HTTP\/1\.1 431|^HTTP\/1\.1 400/);
  const t0 = Date.now();
  const slow = await raw('GET /_ping HTTP/1.1\r\nHost: x\r\n'); // headers never end
  assert.ok(Date.now() - t0 < 4000, `a client that never ends its headers is cut off (after ${Date.now() - t0} ms)`);
  assert.match(slow, /^HTTP\/1\.1 408|^$/);
  const slowBody = await raw('POST /volumes/create HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{');
  assert.doesNotMatch(slowBody, /^HTTP\/1\.1 201/);
  const ping = await call('GET', '/_ping');
  assert.equal(ping.status, 200);
  assert.deepEqual(api.engine.volumes.list(), []);
});
