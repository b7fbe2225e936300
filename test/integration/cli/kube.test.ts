import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { KUBEVIRT_SCHEMA_FILE, schemaProblems, yamlObjects } from '../../helpers/kube-schemas.js';
import { which } from '../../../src/util/which.js';
import { assertEngineError } from '../../helpers/engine-error.js';

let fx: Fixture;
const cli = (...args: string[]) => isola(fx.root, args);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

describe('isola kube', () => {
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await cli('rm', '-f', ...JSON.parse((await cli('ps', '-a', '--json')).stdout).map((r: { id: string }) => r.id)).catch(() => undefined);
    await fx.dispose();
  });

  test('generate from a created instance: Deployment and Service, valid, warnings one per line on stderr', async () => {
    const created = await cli('create', '--name', 'web_1', '-p', '18080:80', '-e', 'MODE=prod', '-m', '64m', '--cpus', '0.5', '--pids-limit', '50', 'base', 'httpd', '-f', '-p', '80');
    assert.equal(created.code, 0, created.stderr);
    const out = path.join(fx.root, 'web.yaml');
    const r = await cli('kube', 'generate', 'web_1', '--replicas', '3', '--validate', '-o', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'with -o nothing goes to stdout');
    const objs = yamlObjects(fs.readFileSync(out, 'utf8'));
    assert.deepEqual(await schemaProblems(objs), []);
    assert.deepEqual(objs.map((o) => `${o.kind} ${o.metadata.name}`), ['Deployment web-1', 'Service web-1']);
    const d = objs[0] as Any;
    assert.equal(d.spec.replicas, 3);
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.image, 'base:latest');
    assert.deepEqual(c.command, ['httpd', '-f', '-p', '80']);
    assert.deepEqual(c.env, [{ name: 'MODE', value: 'prod' }]);
    assert.deepEqual(c.resources.limits, { memory: '64Mi', cpu: '500m' });
    assert.deepEqual((objs[1] as Any).spec.ports, [{ name: 'tcp-18080', protocol: 'TCP', port: 18080, targetPort: 80 }]);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.every((l) => /^isola: warning: (instance web_1|name "web_1"): /.test(l)), r.stderr);
    assert.match(r.stderr, /--pids-limit 50 not carried over/);
    assert.match(r.stderr, /"base:latest" names no registry/);
    assert.match(r.stderr, /written as "web-1"/);
    // To stdout, the same objects.
    const again = await cli('kube', 'generate', 'web_1', '--replicas', '3');
    assert.deepEqual(yamlObjects(again.stdout), objs);
  });

  test('generate --image with run flags, every kind; a VM is validated against KubeVirt\'s schema', async () => {
    const hybrid = await cli('kube', 'generate', '--image', 'base', '--as', 'hybrid', '--name', 'h', '-m', '128m', '--validate', '--', 'sh', '-c', 'sleep 1000');
    assert.equal(hybrid.code, 0, hybrid.stderr);
    const h = yamlObjects(hybrid.stdout) as Any[];
    assert.deepEqual(h.map((o) => o.kind), ['RuntimeClass', 'Deployment']);
    assert.equal(h[1].spec.template.spec.runtimeClassName, 'kata');
    assert.deepEqual(h[1].spec.template.spec.containers[0].args, ['sh', '-c', 'sleep 1000']);
    const vm = await cli('kube', 'generate', '--image', 'base', '--as', 'vm', '--name', 'v', '-p', '8080:80', '--containerdisk', 'registry.example:5000/v-disk:1',
      '--validate', '--kubevirt-schema', KUBEVIRT_SCHEMA_FILE);
    assert.equal(vm.code, 0, vm.stderr);
    const v = yamlObjects(vm.stdout) as Any[];
    assert.deepEqual(v.map((o) => o.kind), ['VirtualMachine', 'Service']);
    assert.deepEqual(await schemaProblems(v), []);
    assert.equal(v[0].spec.template.spec.volumes[0].containerDisk.image, 'registry.example:5000/v-disk:1');
  });

  test('bad input: one line with the fix, exit 125, no output file', async () => {
    const out = path.join(fx.root, 'never.yaml');
    assertEngineError(await cli('kube', 'generate', '--image', 'base', '--as', 'vm', '-o', out), /boots a containerDisk image, which was not given; .*--containerdisk REF/);
    assertEngineError(await cli('kube', 'generate', '--image', 'base', '--as', 'pod', '-o', out), /unknown isolation kind "pod"/);
    assertEngineError(await cli('kube', 'generate', 'no-such-instance', '-o', out), /no such instance/);
    assertEngineError(await cli('kube', 'generate', '-o', out), /nothing to describe/);
    assertEngineError(await cli('kube', 'generate', 'web_1', '-m', '1g', '-o', out), /--memory describe an image run/);
    assertEngineError(await cli('kube', 'generate', '--image', 'base', '--replicas', '0', '-o', out), /invalid --replicas/);
    assertEngineError(await cli('kube', 'generate', '--image', 'base', '--service-type', 'Ingress', '-o', out), /unknown --service-type/);
    assertEngineError(await cli('kube', 'generate', '--image', 'base', '--as', 'vm', '--containerdisk', 'r.example/d:1', '--validate', '-o', out), /KubeVirt's schema, which was not given/);
    assertEngineError(await cli('kube', 'generate', '--image', 'base', '-v', 'nope', '-o', out), /the path inside the instance "nope" is not absolute/);
    assertEngineError(await cli('kube', 'generate', '--image', 'base', '--network', 'none', '-p', '80:80', '-o', out), /--publish needs a network/);
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(fs.readdirSync(fx.root).filter((n) => n.endsWith('.tmp')), []);
  });

  test('containerdisk: a qcow2 disk into the store, then isola push to a registry', { skip: which('qemu-img', (process.env.PATH ?? '').split(':')) ? false : 'qemu-img is not installed (Debian: qemu-utils)' }, async () => {
    let registry: TestRegistry | undefined;
    try {
      registry = await startRegistry();
      const disk = path.join(fx.root, 'app.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '32M']);
      const ref = `${registry.host}/isola/app-disk:1`;
      const built = await cli('kube', 'containerdisk', disk, '-t', ref);
      assert.equal(built.code, 0, built.stderr);
      assert.match(built.stdout, new RegExp(`^${ref.replace(/[.]/g, '\\.')}: sha256:[a-f0-9]{64} \\(/disk/disk\\.qcow2, qcow2\\)\\n$`));
      const images = JSON.parse((await cli('images', '--json')).stdout) as { ref: string }[];
      assert.ok(images.some((i) => i.ref === ref), JSON.stringify(images));
      const push = await cli('push', ref);
      assert.equal(push.code, 0, push.stderr);
      const res = await fetch(`http://${registry.host}/v2/isola/app-disk/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { layers: unknown[] }).layers.length, 1);
      assertEngineError(await cli('kube', 'containerdisk', path.join(fx.root, 'web.yaml'), '-t', 'x:1'), /neither a known disk format nor a raw disk|tar archive|sectors/);
      assertEngineError(await cli('kube', 'containerdisk', path.join(fx.root, 'none.qcow2'), '-t', 'x:1'), /does not exist/);
    } finally {
      await registry?.stop();
    }
  });

  test('plan --kube: the worked example as manifests, valid, with the node count', async () => {
    const r = await cli('plan', path.join(REPO, 'examples', 'workloads.yaml'), '--kube', '--validate', '--kubevirt-schema', KUBEVIRT_SCHEMA_FILE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^---\n# isola plan --kube: advised placement on host type r650/);
    assert.match(r.stdout, /^# nodes: \d+ /m);
    assert.deepEqual(await schemaProblems(yamlObjects(r.stdout)), []);
    assertEngineError(await cli('plan', path.join(REPO, 'examples', 'workloads.yaml'), '--strategy', 'all-vm'), /apply with --kube only/);
  });

  test('nothing is left on the host once the instance is removed', async () => {
    assert.equal((await cli('rm', 'web_1')).code, 0);
    assert.deepEqual(hostLeftovers(fx), []);
  });
});
