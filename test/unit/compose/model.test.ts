import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../../helpers/fixture.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { parseComposeText } from '../../../src/compose/load.js';
import { buildModel, projectName } from '../../../src/compose/model.js';
import { loadStack } from '../../../src/compose/stack.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-model-'));
const file = path.join(dir, 'compose.yaml');
const model = (text: string, vars: Record<string, string> = {}, profiles: string[] = []) => {
  const f = parseComposeText(text, file, new Map(Object.entries(vars)));
  return buildModel(f, 'proj', profiles);
};
const stack = (text: string) => {
  fs.writeFileSync(file, text);
  return loadStack({ file, profiles: [], cwd: dir, env: {} });
};
function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isIsolaError(e, 'INVALID_ARGUMENT'), String(e));
    assert.match(e.oneLine(), pattern);
    assert.doesNotMatch(e.oneLine(), /\n/);
    return true;
  });
}

test('a service: kind, command words, environment, ports, volumes, limits, health, labels', () => {
  fs.writeFileSync(path.join(dir, 'web.env'), 'FROM_FILE=1\nSHARED=file\n');
  const m = model(`
services:
  web:
    image: base
    x-isola-kind: hybrid
    command: sh -c 'echo "a b"'
    entrypoint: ["/bin/env", "-i"]
    env_file: web.env
    environment: { SHARED: yaml, PASSED: null, DROPPED: null }
    ports: ["8080:80", "127.0.0.1::81/udp", {target: 82, published: "9090"}]
    volumes: ["./site:/www:ro", "data:/data", "/anon", {type: tmpfs, target: /tmp}]
    healthcheck: {test: ["CMD", "wget", "-q", "http://x/a b"], interval: 2s, retries: 5}
    restart: on-failure:3
    deploy: {resources: {limits: {cpus: "0.5", memory: 64M, pids: 50}}}
    labels: [a=1, b]
    stop_grace_period: 1m30s
volumes:
  data: {}
`, { PASSED: 'from-env' });
  const s = m.services[0];
  assert.ok(s);
  assert.equal(s.kind, 'hybrid');
  assert.deepEqual(s.command, ['sh', '-c', 'echo "a b"']);
  assert.deepEqual(s.entrypoint, ['/bin/env', '-i']);
  assert.deepEqual(s.environment, ['FROM_FILE=1', 'SHARED=file', 'SHARED=yaml', 'PASSED=from-env']);
  assert.deepEqual(s.ports, [
    { hostIp: '0.0.0.0', hostPort: 8080, instancePort: 80, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 0, instancePort: 81, protocol: 'udp' },
    { hostIp: '0.0.0.0', hostPort: 9090, instancePort: 82, protocol: 'tcp' },
  ]);
  assert.deepEqual(s.volumes, [
    { type: 'bind', source: path.join(dir, 'site'), target: '/www', readOnly: true, createSource: true },
    { type: 'volume', source: 'proj_data', target: '/data', readOnly: false },
    { type: 'volume', target: '/anon', readOnly: false },
    { type: 'tmpfs', target: '/tmp', readOnly: false, noExec: false },
  ]);
  assert.deepEqual(s.health, { cmd: "wget -q 'http://x/a b'", interval: '2s', retries: '5' });
  assert.equal(s.restart, 'on-failure:3');
  assert.equal(s.cpus, 0.5);
  assert.equal(s.memoryBytes, 64 * 1024 * 1024);
  assert.equal(s.pidsLimit, 50);
  assert.deepEqual(s.labels, { a: '1', b: '' });
  assert.equal(s.stopTimeout, 90);
  assert.deepEqual(m.networks.map((n) => n.name), ['proj_default']);
});

test('the kind: x-isola-kind or runtime, default container; conflicting keys refused', () => {
  assert.equal(model('services: {a: {image: base, runtime: vm}}').services[0]?.kind, 'vm');
  assert.equal(model('services: {a: {image: base, runtime: runc}}').services[0]?.kind, 'container');
  assert.equal(model('services: {a: {image: base}}').services[0]?.kind, 'container');
  assert.equal(model('services: {a: {image: base, runtime: vm, x-isola-kind: vm}}').services[0]?.kind, 'vm');
  refused(() => model('services:\n  a: {image: base, runtime: vm, x-isola-kind: container}\n'), /compose\.yaml:2:20: services\.a\.runtime says vm while x-isola-kind says container; keep one/);
  refused(() => model('services:\n  a: {image: base, x-isola-kind: kata}\n'), /services\.a\.x-isola-kind "kata" is not a kind isola runs; use container, vm, hybrid/);
});

test('profiles: services of a profile only when it is enabled', () => {
  const text = 'services:\n  a: {image: base}\n  dbg: {image: base, profiles: [debug]}\n';
  assert.deepEqual(model(text).services.map((s) => s.name), ['a']);
  assert.deepEqual(model(text, {}, ['debug']).services.map((s) => s.name), ['a', 'dbg']);
  refused(() => model('services:\n  a: {image: base, depends_on: [dbg]}\n  dbg: {image: base, profiles: [debug]}\n'), /names service "dbg", which is in a profile not enabled/);
});

test('networks: the default one per stack, declared ones, undeclared ones refused', () => {
  const m = model('services:\n  a: {image: base, networks: [front, back]}\n  b: {image: base}\nnetworks:\n  front: {}\n  back: {ipam: {config: [{subnet: 10.99.0.0/24}]}}\n  ext: {external: true}\n');
  assert.deepEqual(m.services[0]?.networks, ['front', 'back']);
  assert.deepEqual(m.networks.map((n) => [n.name, n.subnet ?? null]), [['proj_default', null], ['proj_front', null], ['proj_back', '10.99.0.0/24']]);
  refused(() => model('services:\n  a: {image: base, networks: [nope]}\n'), /names the network "nope", which the top-level networks section does not declare/);
  refused(() => model('services:\n  a: {image: base, volumes: ["nope:/x"]}\n'), /uses the volume "nope", which the top-level volumes section does not declare/);
});

test('a fixed host port with several replicas is the service\'s: accepted', () => {
  const s = model('services:\n  a: {image: base, ports: ["80:80"], deploy: {replicas: 2}}\n').services[0];
  assert.equal(s?.replicas, 2);
  assert.equal(s?.ports[0]?.hostPort, 80);
});

test('bad input: unsupported keys, no image, a missing env_file', () => {
  refused(() => model('services:\n  a: {image: base, sysctls: {x: 1}}\n'), /compose\.yaml:2:20: services\.a\.sysctls is not supported by isola compose/);
  refused(() => model('services:\n  a: {image: base, deploy: {mode: global}}\n'), /services\.a\.deploy\.mode is not supported/);
  refused(() => model('services:\n  a: {command: x}\n'), /services\.a has neither image nor build/);
  refused(() => model('services:\n  a: {image: base, env_file: nope.env}\n'), /names .*nope\.env, which does not exist/);
  refused(() => model('services:\n  a: {image: base, command: "sh -c \'x"}\n'), /unclosed ' quote/);
  refused(() => model('services:\n  a:\n    image: base\n    healthcheck: {retries: many}\n'), /compose\.yaml:4:\d+: services\.a\.healthcheck is not valid: invalid --health-retries "many"/);
  refused(() => model('configs: {}\nservices:\n  a: {image: base}\n'), /configs is not supported by isola compose/);
});

test('a stack: cycles and port conflicts are one line with the place', () => {
  refused(() => stack('services:\n  a: {image: base, depends_on: [b]}\n  b: {image: base, depends_on: [c]}\n  c: {image: base, depends_on: [b]}\n'), /compose\.yaml:\d+:\d+: depends_on has a cycle: b -> c -> b; remove one/);
  refused(() => stack('services:\n  a: {image: base, ports: ["8080:80"]}\n  b: {image: base, ports: ["127.0.0.1:8080:81"]}\n'), /compose\.yaml:3:\d+: services a and b both publish host port 8080\/tcp/);
  assert.doesNotThrow(() => stack('services:\n  a: {image: base, ports: ["8080:80"]}\n  b: {image: base, ports: ["8080:80/udp"]}\n'));
});

test('project name: -p, then name:, then the folder, normalized', () => {
  const f = parseComposeText('services: {a: {image: base}}', '/srv/My.App/compose.yaml', new Map());
  assert.equal(projectName(undefined, f, new Map()), 'myapp');
  assert.equal(projectName('given', f, new Map()), 'given');
  assert.equal(projectName(undefined, f, new Map([['COMPOSE_PROJECT_NAME', 'fromenv']])), 'fromenv');
  assert.equal(projectName(undefined, parseComposeText('name: named\nservices: {a: {image: base}}', '/srv/x/compose.yaml', new Map()), new Map()), 'named');
  refused(() => projectName('Bad Name', f, new Map()), /invalid project name "Bad Name"/);
});

test('the example stack loads', () => {
  const m = loadStack({ file: path.join(REPO, 'examples', 'stack', 'compose.yaml'), profiles: [], cwd: REPO, env: {} });
  assert.deepEqual(m.services.map((s) => [s.name, s.kind, s.replicas]), [['db', 'vm', 1], ['web', 'container', 2]]);
});

process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

test('x-isola-machine places a service in a machine: kind hybrid, run --machine\'s request on the stack\'s network with its alias; what a placed container cannot have is refused', async () => {
  const { requestFor } = await import('../../../src/compose/apply.js');
  const m = model(`
services:
  db:
    image: base
    x-isola-machine: prod
    ports: ["5432"]
  tool:
    image: base
    x-isola-kind: container
    x-isola-machine: dev
  web:
    image: base
`);
  const [db, tool, web] = m.services;
  assert.equal(db?.kind, 'hybrid');
  assert.equal(db?.machine, 'prod');
  assert.equal(tool?.kind, 'hybrid', 'container in a machine: a container inside its VM');
  assert.equal(tool?.machine, 'dev');
  assert.equal(web?.machine, undefined);
  const req = requestFor(m, db!, 1, 'h');
  assert.equal(req.machine, 'prod');
  assert.deepEqual(req.aliases, ['db']);
  assert.equal(req.network, 'proj_default', 'a placed container is on the stack\'s network, as any service');
  assert.equal(requestFor(m, web!, 1, 'h').network, 'proj_default');
  refused(() => model('services:\n  db:\n    image: base\n    x-isola-kind: vm\n    x-isola-machine: prod\n'), /compose\.yaml:5:\d+: services\.db\.x-isola-machine places containers in a machine, while the kind is vm; drop/);
  refused(() => model('services:\n  db:\n    image: base\n    x-isola-machine: prod\n    volumes: ["/data"]\n'), /services\.db\.volumes cannot be mounted into containers in machine prod/);
  assert.deepEqual(model('services:\n  db:\n    image: base\n    x-isola-machine: prod\n    networks: [back]\nnetworks:\n  back: {}\n').services[0]?.networks, ['back']);
  refused(() => model('services:\n  db:\n    image: base\n    x-isola-machine: "no good"\n'), /x-isola-machine must name a machine/);
});
