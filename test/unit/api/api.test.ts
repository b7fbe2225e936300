import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { splitVersion, Router, API_VERSION } from '../../../src/api/router.js';
import { toRunRequest } from '../../../src/api/create-request.js';
import { toResponse, ApiError } from '../../../src/api/errors.js';
import { checkTcpOptions } from '../../../src/api/server.js';
import { frame } from '../../../src/api/http.js';
import { IsolaError, isIsolaError } from '../../../src/core/errors.js';
import { Engine } from '../../../src/engine/engine.js';
import { startInProcessApi, type InProcessApi } from '../../helpers/api-server.js';

test('API versions: /vX.Y/ prefixes are taken off; too new and too old are 400 with Docker\'s words', () => {
  assert.deepEqual(splitVersion('/v1.41/containers/json'), { version: '1.41', path: '/containers/json' });
  assert.deepEqual(splitVersion('/_ping'), { version: API_VERSION, path: '/_ping' });
  assert.throws(() => splitVersion('/v1.99/info'), (e) => e instanceof ApiError && e.status === 400 && /too new. Maximum supported API version is 1\.43/.test(e.message));
  assert.throws(() => splitVersion('/v1.12/info'), (e) => e instanceof ApiError && e.status === 400 && /too old/.test(e.message));
});

test('routes: unknown paths are 404, known paths with another method 405, HEAD follows GET', () => {
  const r = new Router().add('GET', '/a/([^/]+)', () => undefined);
  assert.deepEqual(r.match('GET', '/a/x%2Fy').params, ['x/y']);
  assert.ok(r.match('HEAD', '/a/b'));
  assert.throws(() => r.match('POST', '/a/b'), (e) => e instanceof ApiError && e.status === 405);
  assert.throws(() => r.match('GET', '/b'), (e) => e instanceof ApiError && e.status === 404);
  assert.throws(() => r.match('GET', '/a/%E0%A4%A'), (e) => e instanceof ApiError && e.status === 400);
});

test('errors: isola\'s codes as the status codes Docker clients rely on', () => {
  assert.equal(toResponse(new IsolaError('NOT_FOUND', 'x')).status, 404);
  assert.equal(toResponse(new IsolaError('ALREADY_EXISTS', 'x')).status, 409);
  assert.equal(toResponse(new IsolaError('INVALID_ARGUMENT', 'bad', 'fix')).message, 'bad; fix');
  assert.equal(toResponse(new IsolaError('UNAVAILABLE', 'x')).status, 500);
  assert.equal(toResponse(new Error('boom')).status, 500);
  // The docker CLI reads `run`'s 127 and 126 from these words.
  assert.match(toResponse(new IsolaError('COMMAND_NOT_FOUND', 'x')).message, /executable file not found/);
  assert.match(toResponse(new IsolaError('CANNOT_INVOKE', 'x')).message, /permission denied/);
});

test('stream framing: 8 bytes (stream, 0, 0, 0, big-endian size), then the bytes', () => {
  assert.deepEqual([...frame(2, Buffer.from('hi'))], [2, 0, 0, 0, 0, 0, 0, 2, 104, 105]);
});

test('container create bodies become run requests; HostConfig.Runtime selects the kind', () => {
  const r = toRunRequest({
    Image: 'base', Cmd: ['echo', 'hi'], Env: ['A=1'], Labels: { k: 'v' }, Tty: false, OpenStdin: true, StdinOnce: true,
    HostConfig: {
      Runtime: 'vm', Memory: 256 * 1024 * 1024, NanoCpus: 1.5e9, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      Binds: ['/srv:/data:ro', 'vol:/v'], RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, AutoRemove: false,
    },
    Healthcheck: { Test: ['CMD', 'test', '-f', '/x y'], Interval: 2e9, Retries: 2 },
  }, '/web');
  assert.equal(r.kind, 'vm');
  assert.equal(r.name, 'web');
  assert.deepEqual(r.command, ['echo', 'hi']);
  assert.equal(r.entrypoint, undefined);
  assert.equal(r.memoryBytes, 256 * 1024 * 1024);
  assert.equal(r.cpus, 1.5);
  assert.deepEqual(r.publish, [
    { hostIp: '0.0.0.0', hostPort: 8080, instancePort: 80, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 0, instancePort: 53, protocol: 'udp' },
  ]);
  assert.equal(r.mounts?.length, 2);
  assert.deepEqual(r.restart, { name: 'on-failure', maxRetries: 3 });
  assert.deepEqual(r.health, { cmd: "test -f '/x y'", interval: '2000000000ns', retries: '2' });
  assert.equal(r.detach, true, 'every API instance is managed: its monitor records the exit');
  assert.equal(r.stdinOnce, true);
  assert.equal(toRunRequest({ Image: 'base' }, undefined).kind, 'container');
  assert.equal(toRunRequest({ Image: 'base', HostConfig: { Runtime: 'runc' } }, undefined).runtime, 'runc');
  assert.equal(toRunRequest({ Image: 'base', HostConfig: { Runtime: 'hybrid' } }, undefined).kind, 'hybrid');
  const ep = toRunRequest({ Image: 'base', Entrypoint: ['sh', '-c'], Cmd: ['echo x'] }, undefined);
  assert.equal(ep.entrypoint, 'sh');
  assert.deepEqual(ep.command, ['-c', 'echo x']);
});

test('bad create bodies are refused with one line before anything is made', () => {
  const bad: Record<string, unknown>[] = [
    {},
    { Image: 3 },
    { Image: 'base', Cmd: [1] },
    { Image: 'base', Env: ['NOVALUE'] },
    { Image: 'base', HostConfig: { Runtime: 'kata' } },
    { Image: 'base', HostConfig: { Binds: ['./rel:/x'] } },
    { Image: 'base', HostConfig: { Links: ['a:b'] } },
    { Image: 'base', HostConfig: { NetworkMode: 'host' } },
    { Image: 'base', HostConfig: { Memory: -1 } },
    { Image: 'base', HostConfig: { PortBindings: { 'x/tcp': [] } } },
    { Image: 'base', HostConfig: { Mounts: [{ Type: 'bind', Source: '/a,readonly', Target: '/b' }] } },
    { Image: 'base', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } },
    { Image: 'base', Healthcheck: { Test: ['WHAT'] } },
    { Image: 'base', HostConfig: 'x' },
  ];
  for (const b of bad) {
    assert.throws(() => toRunRequest(b, undefined), (e) => (e instanceof ApiError && e.status === 400) || isIsolaError(e, 'INVALID_ARGUMENT'), JSON.stringify(b));
  }
});

test('TCP is refused without mutual TLS or a token, and a token travels in clear only on loopback', () => {
  assert.throws(() => checkTcpOptions({ socket: null, tcp: '0.0.0.0:2375' }), /refusing unauthenticated TCP/);
  assert.throws(() => checkTcpOptions({ socket: null, tcp: '0.0.0.0:2375', tlsCert: 'c', tlsKey: 'k' }), /mutual TLS needs all of/);
  assert.throws(() => checkTcpOptions({ socket: null, tcp: '10.0.0.1:2375', tokenFile: 't' }), /clear text/);
  assert.throws(() => checkTcpOptions({ socket: null, tcp: 'example.com:2375', tokenFile: 't' }), /invalid --tcp/);
  assert.throws(() => checkTcpOptions({ socket: '/x', tokenFile: 't' }), /apply to --tcp/);
  checkTcpOptions({ socket: null, tcp: '127.0.0.1:2375', tokenFile: 't' });
  checkTcpOptions({ socket: null, tcp: '0.0.0.0:2376', tlsCert: 'c', tlsKey: 'k', tlsCa: 'a' });
});

// ---- a live server over a data root with the base image and no instance --------------------

let api: InProcessApi;
let sock: string;

before(async () => {
  api = await startInProcessApi();
  sock = api.sock;
});
after(async () => {
  await api?.dispose();
});

function call(method: string, p: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: p, headers: { ...(body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the socket is root\'s alone when there is no isola group', () => {
  const mode = fs.statSync(sock).mode & 0o777;
  const hasGroup = fs.readFileSync('/etc/group', 'utf8').split('\n').some((l) => l.startsWith('isola:'));
  assert.equal(mode, hasGroup ? 0o660 : 0o600);
});

test('/_ping GET and HEAD carry API-Version; /version names isola', async () => {
  const g = await call('GET', '/_ping');
  assert.equal(g.status, 200);
  assert.equal(g.text, 'OK');
  assert.equal(g.headers['api-version'], API_VERSION);
  const h = await call('HEAD', '/v1.41/_ping');
  assert.equal(h.status, 200);
  assert.equal(h.headers['api-version'], API_VERSION);
  const v = JSON.parse((await call('GET', '/v1.43/version')).text) as { ApiVersion: string; Platform: { Name: string } };
  assert.equal(v.ApiVersion, API_VERSION);
  assert.equal(v.Platform.Name, 'isola');
});

test('errors are {"message"} with Docker\'s status codes; nothing is made', async () => {
  const cases: [string, string, string | undefined, number, RegExp][] = [
    ['GET', '/nope', undefined, 404, /page not found/],
    ['GET', '/v9.0/info', undefined, 400, /too new/],
    ['POST', '/containers/create', '{not json', 400, /invalid JSON/],
    ['POST', '/containers/create', '[]', 400, /must be an object/],
    ['POST', '/containers/create', '{"Image":"no-such-image"}', 404, /no-such-image/],
    ['POST', '/containers/create?name=bad%20name', '{"Image":"base"}', 400, /invalid name/],
    ['GET', '/containers/nosuch/json', undefined, 404, /No such container: nosuch/],
    ['GET', `/containers/${'a'.repeat(64)}/json`, undefined, 404, /No such container: a{64}/],
    ['GET', '/containers/..%2F..%2Fetc/json', undefined, 400, /invalid container name/],
    ['GET', '/containers/json?filters=%7Bx', undefined, 400, /invalid filters/],
    ['GET', '/containers/json?filters=%7B%22evil%22%3A%5B%5D%7D', undefined, 400, /invalid filter 'evil'/],
    ['GET', '/images/NOT..VALID/json', undefined, 400, /invalid image reference/],
    ['GET', '/images/nosuch/json', undefined, 404, /No such image/],
    ['DELETE', '/images/json', undefined, 404, /No such image/],
    ['GET', '/volumes/..%2Fx', undefined, 400, /volume/],
    ['POST', '/containers/json', '{}', 405, /not allowed/],
    ['GET', '/exec/zz/json', undefined, 400, /invalid exec id/],
  ];
  for (const [m, p, body, status, re] of cases) {
    const r = await call(m, p, body);
    assert.equal(r.status, status, `${m} ${p}: ${r.text}`);
    assert.match((JSON.parse(r.text) as { message: string }).message, re, `${m} ${p}`);
  }
  assert.deepEqual(api.engine.instances.list(), []);
});

test('a body over the limit is 413 before it is all read', async () => {
  const r = await call('POST', '/containers/create', `{"Image":"${'a'.repeat(2 * 1024 * 1024)}"}`);
  assert.equal(r.status, 413);
});

test('images: list, inspect, tag and remove a tag', async () => {
  const list = JSON.parse((await call('GET', '/images/json')).text) as { RepoTags: string[]; Id: string }[];
  const base = list.find((i) => i.RepoTags.includes('base:latest'));
  assert.ok(base, JSON.stringify(list));
  assert.equal((await call('POST', '/images/base/tag?repo=copy&tag=1')).status, 201);
  const ins = JSON.parse((await call('GET', '/images/copy:1/json')).text) as { Id: string; RepoTags: string[] };
  assert.equal(ins.Id, base.Id);
  const del = await call('DELETE', '/images/copy:1');
  assert.equal(del.status, 200);
  assert.deepEqual(JSON.parse(del.text), [{ Untagged: 'copy:1' }]);
  assert.equal((await call('GET', '/images/copy:1/json')).status, 404);
  // The docker CLI names a local image as Docker Hub's: isola has no default registry, so it is local.
  assert.equal((await call('POST', '/images/base/tag?repo=docker.io%2Flibrary%2Fhub&tag=2')).status, 201);
  assert.equal(JSON.parse((await call('GET', '/images/hub:2/json')).text).RepoTags[0], 'hub:2');
  assert.equal((await call('DELETE', '/images/docker.io%2Flibrary%2Fhub:2')).status, 200);
  const pull = await call('POST', '/images/create?fromImage=docker.io%2Flibrary%2Fnginx&tag=latest');
  assert.equal(pull.status, 404);
  assert.match(JSON.parse(pull.text).message, /no default registry, so nginx is not pulled/);
});

test('volumes: create, list, inspect, remove; a second remove is 404', async () => {
  const c = await call('POST', '/volumes/create', '{"Name":"data1","Labels":{"a":"b"}}');
  assert.equal(c.status, 201, c.text);
  const l = JSON.parse((await call('GET', '/volumes')).text) as { Volumes: { Name: string; Labels: Record<string, string> }[] };
  assert.deepEqual(l.Volumes.map((v) => [v.Name, v.Labels]), [['data1', { a: 'b' }]]);
  assert.equal(JSON.parse((await call('GET', '/volumes/data1')).text).Name, 'data1');
  assert.equal((await call('DELETE', '/volumes/data1')).status, 204);
  assert.equal((await call('DELETE', '/volumes/data1')).status, 404);
});

test('the CLI and the server share one state: what one makes, the other sees', async () => {
  api.engine.volumes.create('from-cli', {});
  const l = JSON.parse((await call('GET', '/volumes')).text) as { Volumes: { Name: string }[] };
  assert.ok(l.Volumes.some((v) => v.Name === 'from-cli'));
  const other = new Engine(api.fx.config);
  try {
    assert.equal((await call('POST', '/volumes/create', '{"Name":"from-api"}')).status, 201);
    assert.ok(other.volumes.list().some((v) => v.name === 'from-api'), 'a second api.engine (another process) reads it from SQLite');
  } finally {
    other.close();
  }
});
