import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIsolaError } from '../../../src/core/errors.js';
import { parseComposeText } from '../../../src/compose/load.js';
import { buildModel, type StackModel } from '../../../src/compose/model.js';
import { configHash, dependencyCycle, parseScale, planUp, startOrder, type Existing } from '../../../src/compose/plan.js';

const model = (text: string): StackModel => buildModel(parseComposeText(text, '/x/compose.yaml', new Map()), 'p', []);

test('start order: dependencies first, file order otherwise; cycles named', () => {
  const m = model('services:\n  web: {image: base, depends_on: [api]}\n  api: {image: base, depends_on: {db: {condition: service_healthy}}}\n  db: {image: base}\n  side: {image: base}\n');
  assert.deepEqual(startOrder(m.services).map((s) => s.name), ['db', 'api', 'web', 'side']);
  assert.equal(dependencyCycle(m.services), null);
  const c = model('services:\n  a: {image: base, depends_on: [b]}\n  b: {image: base, depends_on: [a]}\n  c: {image: base}\n');
  assert.deepEqual(dependencyCycle(c.services), ['a', 'b', 'a']);
  assert.throws(() => startOrder(c.services), /cycle: a -> b -> a/);
  const self = model('services:\n  a: {image: base, depends_on: [a]}\n');
  assert.deepEqual(dependencyCycle(self.services), ['a', 'a']);
});

test('config hash: changes with the configuration or the image digest, not with replicas', () => {
  const a = model('services: {web: {image: base, command: [a]}}').services[0]!;
  const b = model('services: {web: {image: base, command: [b]}}').services[0]!;
  const scaled = model('services: {web: {image: base, command: [a], deploy: {replicas: 3}}}').services[0]!;
  assert.notEqual(configHash(a, 'sha256:1'), configHash(b, 'sha256:1'));
  assert.notEqual(configHash(a, 'sha256:1'), configHash(a, 'sha256:2'));
  assert.equal(configHash(a, 'sha256:1'), configHash(scaled, 'sha256:1'));
  const vm = model('services: {web: {image: base, command: [a], x-isola-kind: vm}}').services[0]!;
  assert.notEqual(configHash(a, 'sha256:1'), configHash(vm, 'sha256:1'), 'the kind is part of the configuration');
});

test('planUp: keep, start, recreate, create, remove, orphans', () => {
  const m = model('services:\n  web: {image: base, deploy: {replicas: 2}}\n  db: {image: base}\n');
  const ex = (service: string, number: number, hash: string, running = true): Existing => ({ id: `${service}${number}`, name: `p-${service}-${number}`, service, number, hash, running });
  const hashes = new Map([['web', 'H'], ['db', 'D']]);
  const existing = [ex('web', 1, 'H'), ex('web', 2, 'OLD'), ex('web', 3, 'H'), ex('db', 1, 'D', false), ex('gone', 1, 'X')];
  const { actions, orphans } = planUp(m, hashes, new Map(), existing, false);
  assert.deepEqual(actions.map((a) => `${a.type} ${a.service}-${a.number}`), ['keep web-1', 'recreate web-2', 'remove web-3', 'start db-1']);
  assert.deepEqual(orphans.map((o) => o.name), ['p-gone-1']);
  const scaled = planUp(m, hashes, new Map([['web', 4]]), [], true);
  assert.deepEqual(scaled.actions.map((a) => `${a.type} ${a.service}-${a.number}`), ['create web-1', 'create web-2', 'create web-3', 'create web-4', 'create db-1']);
  const noStart = planUp(m, hashes, new Map(), [ex('db', 1, 'D', false)], true);
  assert.ok(noStart.actions.some((a) => a.type === 'keep' && a.service === 'db'), '--no-start starts nothing');
});

test('--scale: SERVICE=N of the file only; a fixed host port is shared by the replicas', () => {
  const m = model('services:\n  web: {image: base, ports: ["80"]}\n  fixed: {image: base, ports: ["8080:80"]}\n');
  assert.deepEqual([...parseScale(['web=3', 'fixed=2'], m)], [['web', 3], ['fixed', 2]]);
  for (const [arg, pattern] of [['nope=2', /--scale nope=2: no such service "nope"/], ['web', /invalid --scale "web"/], ['web=-1', /invalid --scale/]] as const) {
    assert.throws(() => parseScale([arg], m), (e: unknown) => isIsolaError(e, 'INVALID_ARGUMENT') && pattern.test(e.oneLine()));
  }
});
