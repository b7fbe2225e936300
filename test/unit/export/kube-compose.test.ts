import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isola, REPO } from '../../helpers/fixture.js';
import { schemaProblems, yamlObjects } from '../../helpers/kube-schemas.js';
import type { KubeObject } from '../../../src/export/kube/model.js';

/**
 * `isola kube generate --compose FILE` through the real CLI (no instance is started): one
 * workload per service as `isola compose up` would run it, every object valid against its
 * schema, what a cluster has no place for named on stderr, bad input refused in one line.
 */
describe('kube generate --compose', () => {
  let root = '';
  let dir = '';
  const gen = (...args: string[]) => isola(root, ['kube', 'generate', ...args], { timeoutMs: 60_000 });
  const EXAMPLE = path.join(REPO, 'examples', 'stack', 'compose.yaml');

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-kube-compose-'));
    dir = path.join(root, 'stack');
    fs.mkdirSync(dir);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const kinds = (objects: KubeObject[]) => objects.map((o) => `${o.kind}/${(o.metadata as { name: string }).name}`);

  test('the example stack: a VirtualMachine for the VM service, a Deployment and Service for the web tier, all valid', async () => {
    const r = await gen('--compose', EXAMPLE, '--containerdisk', 'db=registry.example:5000/db-disk:1', '--validate', '--kubevirt-schema', path.join(REPO, '..', 'shared', 'schemas', 'kubevirt-virtualmachine-v1.json'));
    assert.equal(r.code, 0, r.stderr);
    const objects = yamlObjects(r.stdout);
    assert.deepEqual(kinds(objects), ['VirtualMachine/db', 'Deployment/web', 'Service/web']);
    assert.deepEqual(await schemaProblems(objects), []);
    const vm = objects[0] as unknown as { spec: { template: { spec: { volumes: { containerDisk?: { image: string } }[] } } } };
    assert.equal(vm.spec.template.spec.volumes[0]?.containerDisk?.image, 'registry.example:5000/db-disk:1');
    const deploy = objects[1] as unknown as { spec: { replicas: number; template: { spec: { containers: { resources?: { limits?: Record<string, string> }; readinessProbe?: unknown }[] } } } };
    assert.equal(deploy.spec.replicas, 2, 'deploy.replicas');
    assert.deepEqual(deploy.spec.template.spec.containers[0]?.resources?.limits, { cpu: '500m', memory: '64Mi' });
    assert.ok(deploy.spec.template.spec.containers[0]?.readinessProbe, 'the healthcheck becomes a probe');
    // Named, not dropped: start order, and the VM service no other service can find by name.
    assert.match(r.stderr, /service web: depends_on db \(service_healthy\) not carried over/);
    assert.match(r.stderr, /service db: no Service written: .*web cannot reach it by the name db/);
    assert.doesNotMatch(r.stderr, /com\.docker\.compose/, 'Compose\'s own labels stay out');
  });

  test('build:, several networks and profiles are named; --profile enables a service; the default network is the cluster\'s', async () => {
    const file = path.join(dir, 'compose.yaml');
    fs.mkdirSync(path.join(dir, 'api'));
    fs.writeFileSync(file, [
      'services:',
      '  api:',
      '    build: ./api',
      '    image: registry.example:5000/api:2',
      '    ports: ["8080:80"]',
      '    networks: [front, back]',
      '  tool:',
      '    image: registry.example:5000/tool:1',
      '    profiles: [debug]',
      'networks:',
      '  front: {}',
      '  back: {}',
      '',
    ].join('\n'));
    const plain = await gen('--compose', file);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(kinds(yamlObjects(plain.stdout)), ['Deployment/api', 'Service/api']);
    assert.match(plain.stderr, /service api: build: not carried over: .*isola push registry\.example:5000\/api:2/);
    assert.match(plain.stderr, /service api: networks front, back: every pod shares the cluster network/);
    const debug = await gen('--compose', file, '--profile', 'debug');
    assert.equal(debug.code, 0, debug.stderr);
    assert.deepEqual(kinds(yamlObjects(debug.stdout)), ['Deployment/api', 'Service/api', 'Deployment/tool']);
    assert.match(debug.stderr, /service tool: profiles debug/);
    assert.doesNotMatch(debug.stderr, /service tool: networks/, 'only the default network: nothing to say');
  });

  test('bad input: one line, exit 125, nothing written', async () => {
    const out = path.join(root, 'out.yaml');
    const cases: [string[], RegExp][] = [
      [['--compose', EXAMPLE, '-o', out], /service db runs as a VM.*--containerdisk db=/],
      [['--compose', EXAMPLE, '--containerdisk', 'cache=r/x:1', '-o', out], /--containerdisk names service "cache", which .* does not have; use one of: db, web/],
      [['--compose', EXAMPLE, '--containerdisk', 'web=r/x:1', '-o', out], /service web runs as container, not as a VM/],
      [['--compose', EXAMPLE, '--containerdisk', 'r/x:1', '-o', out], /must be SERVICE=REF/],
      [['--compose', EXAMPLE, '--image', 'base', '-o', out], /--compose describes a whole stack/],
      [['--compose', EXAMPLE, '-m', '64m', '-o', out], /--memory describe an image run/],
      [['--compose', EXAMPLE, '--replicas', '3', '-o', out], /--replicas does not apply to --compose/],
      [['--profile', 'debug', '--image', 'base', '-o', out], /--project-name and --profile apply to --compose only/],
      [['--compose', path.join(dir, 'missing.yaml'), '-o', out], /missing\.yaml/],
    ];
    for (const [args, pattern] of cases) {
      const r = await gen(...args);
      assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? '', pattern);
      assert.ok(!fs.existsSync(out), `${args.join(' ')} wrote ${out}`);
    }
  });
});
