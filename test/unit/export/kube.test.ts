import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IsolaError } from '../../../src/core/errors.js';
import type { InstanceSpec } from '../../../src/core/types.js';
import { workloadFromInstance, type WorkloadOptions } from '../../../src/export/kube/from-instance.js';
import { kubeVolumes } from '../../../src/export/kube/mounts.js';
import { nameFromImage, workloadFromRun, type ImageRunSettings } from '../../../src/export/kube/from-run.js';
import type { ImageFacts } from '../../../src/export/kube/image-facts.js';
import { VM_DEFAULT_MEMORY_MIB } from '../../../src/export/kube/kubevirt.js';
import { manifestsFor } from '../../../src/export/kube/manifests.js';
import type { KubeObject, KubeWorkload } from '../../../src/export/kube/model.js';
import { defaultSecurity } from '../../../src/export/kube/model.js';
import { kubeName } from '../../../src/export/kube/names.js';
import { httpCheckOf } from '../../../src/export/kube/probe.js';
import { cpuQuantity, memoryQuantity } from '../../../src/export/kube/quantity.js';
import { renderYaml } from '../../../src/export/kube/render.js';
import { KATA_DEFAULT_OVERHEAD } from '../../../src/export/kube/runtime-class.js';
import { validateManifests } from '../../../src/export/kube/validate.js';
import { Warnings } from '../../../src/export/kube/warnings.js';
import { DEFAULT_MEMORY_MIB } from '../../../src/drivers/vm/launch.js';
import { loadInventory } from '../../../src/advise/load-inventory.js';
import { plan, STRATEGIES, type PlanRequest } from '../../../src/advise/plan.js';
import { kubePlan } from '../../../src/advise/kube-plan.js';
import { parseInventory } from '../../../src/advise/load-inventory.js';
import { REPO } from '../../helpers/fixture.js';
import { measuredOverhead } from '../../../src/cli/kube-output.js';
import { compareFixture } from '../advise/fixtures.js';
import { kubevirtSchema, schemaProblems, yamlObjects } from '../../helpers/kube-schemas.js';

const ID = 'a'.repeat(64);
const MiB = 1024 * 1024;

function spec(over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    id: ID,
    name: 'web_1',
    kind: 'container',
    image: {
      ref: 'registry.example:5000/web:1', digest: 'sha256:' + 'b'.repeat(64), layers: [], layerDigests: [],
      config: { env: ['PATH=/bin'], entrypoint: [], cmd: ['httpd', '-f'], workingDir: '/', user: '' },
    },
    argv: ['httpd', '-f', '-p', '80'],
    env: ['PATH=/bin', 'MODE=prod'],
    workdir: '/srv',
    user: '1000:1000',
    hostname: ID.slice(0, 12),
    memoryBytes: 256 * MiB,
    cpus: 0.5,
    readOnly: true,
    network: { mode: 'bridge', bridge: 'isola0', ip: '10.77.0.5', prefixLength: 16, gateway: '10.77.0.1', mac: '02:00:00:00:00:05' },
    security: { privileged: false, capAdd: ['CAP_NET_ADMIN'], capDrop: ['CAP_MKNOD'], seccomp: 'default', noNewPrivileges: true },
    runtime: '',
    dir: '/var/lib/isola/instances/x',
    runDir: '/run/isola/x',
    cleanupCommand: [],
    ...over,
  };
}

const facts: ImageFacts = {
  entrypoint: [], cmd: ['httpd', '-f'], env: ['PATH=/bin'], user: '', workingDir: '/',
  health: { Test: ['CMD-SHELL', 'wget -q -O- http://localhost:80/healthz || exit 1'], Interval: 10e9, Retries: 5, StartPeriod: 20e9 },
  volumes: ['/var/cache'], exposedTcp: [80, 9090], exposedUdp: [53], exposedOther: ['132/sctp'],
};

const opts: WorkloadOptions = { replicas: 2, serviceType: 'ClusterIP' };

function run(over: Partial<ImageRunSettings> = {}): ImageRunSettings {
  return {
    image: 'registry.example:5000/web:1', kind: 'container', command: [], env: [], readOnly: false, network: 'bridge', publish: [],
    privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true, ...over,
  };
}

const byKind = (objs: KubeObject[], kind: string) => objs.filter((o) => o.kind === kind);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

describe('isola kube generate: container', () => {
  test('an instance becomes a Deployment and a Service, every object valid against its schema', async () => {
    const w = new Warnings();
    const wl = workloadFromInstance({ spec: spec(), ports: [{ hostIp: '0.0.0.0', hostPort: 8080, instancePort: 80 }], facts }, opts, w);
    const objs = manifestsFor([wl], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    assert.deepEqual(objs.map((o) => o.kind), ['Deployment', 'Service']);
    const d = byKind(objs, 'Deployment')[0] as Any;
    assert.equal(d.metadata.name, 'web-1');
    assert.equal(d.spec.replicas, 2);
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.image, 'registry.example:5000/web:1');
    assert.deepEqual(c.command, ['httpd', '-f', '-p', '80'], 'the instance argv differs from the image\'s: carried');
    assert.deepEqual(c.env, [{ name: 'MODE', value: 'prod' }], 'only what the image does not already set');
    assert.equal(c.workingDir, '/srv');
    assert.deepEqual(c.resources, { limits: { memory: '256Mi', cpu: '500m' }, requests: { memory: '256Mi', cpu: '500m' } });
    assert.deepEqual(c.readinessProbe, { httpGet: { path: '/healthz', port: 80 }, periodSeconds: 10, timeoutSeconds: 30, failureThreshold: 5 });
    assert.equal(c.livenessProbe.initialDelaySeconds, 20);
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN'], drop: ['MKNOD'] }, readOnlyRootFilesystem: true,
      runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(c.ports.map((p: Any) => `${p.containerPort}/${p.protocol}`), ['80/TCP', '9090/TCP', '53/UDP'], 'published and EXPOSEd ports');
    assert.deepEqual(c.volumeMounts.map((m: Any) => m.mountPath), ['/var/cache', '/tmp']);
    assert.equal(d.spec.template.spec.automountServiceAccountToken, false);
    assert.equal(d.spec.template.spec.hostname, undefined, 'isola\'s default hostname (the id) is not carried');
    const s = byKind(objs, 'Service')[0] as Any;
    assert.deepEqual(s.spec.ports, [{ name: 'tcp-8080', protocol: 'TCP', port: 8080, targetPort: 80 }]);
    assert.deepEqual(s.spec.selector, d.spec.selector.matchLabels);
    assert.deepEqual(d.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'web-1' });
    const text = w.list.join('\n');
    assert.match(text, /name "web_1".*"web-1"/);
    assert.match(text, /VOLUME \/var\/cache becomes an emptyDir/);
    assert.match(text, /EXPOSE 132\/sctp not declared/);
  });

  test('settings without a Kubernetes equivalent are named in a warning, never dropped silently', () => {
    const w = new Warnings();
    const s = { ...spec({ pidsLimit: 64, user: 'nobody', runtime: 'crun', hostname: 'Not_A_Label' }), futureSetting: { on: true } } as InstanceSpec;
    workloadFromInstance({ spec: s, ports: [{ hostIp: '127.0.0.1', hostPort: 8080, instancePort: 80 }] }, opts, w);
    const text = w.list.join('\n');
    for (const re of [/--pids-limit 64 not carried over/, /user "nobody" not carried over/, /--runtime crun not carried over/, /hostname "Not_A_Label" not carried over/,
      /setting "futureSetting" .* not carried over/, /-p 127\.0\.0\.1:8080:80/, /no longer stored here/]) assert.match(text, re);
  });

  test('-t and -i become the container\'s tty and stdin; an instance\'s foreground -i its stdinOnce', async () => {
    const w = new Warnings();
    const fromRun = manifestsFor([workloadFromRun(run({ tty: true, interactive: true }), undefined, opts, {}, w)], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(fromRun), []);
    const c = (byKind(fromRun, 'Deployment')[0] as Any).spec.template.spec.containers[0];
    assert.deepEqual([c.tty, c.stdin, c.stdinOnce], [true, true, undefined]);
    const inst = workloadFromInstance({ spec: { ...spec({}), tty: true, stdinOpen: true, stdinOnce: true } as InstanceSpec, ports: [] }, opts, w);
    assert.deepEqual(inst.terminal, { tty: true, stdin: true, stdinOnce: true });
    const plain = manifestsFor([workloadFromRun(run(), undefined, opts, {}, w)], w).map((m) => m.object);
    assert.equal((byKind(plain, 'Deployment')[0] as Any).spec.template.spec.containers[0].tty, undefined);
  });

  test('--add-host, --dns, udp, -p without a host port and -P reach the pod and its Service; a user network is named', async () => {
    const w = new Warnings();
    const wl = workloadFromRun(run({
      network: 'backend', publishAll: true,
      publish: [{ hostIp: '0.0.0.0', hostPort: 0, instancePort: 8080 }, { hostIp: '0.0.0.0', hostPort: 5353, instancePort: 53, protocol: 'udp' } as ImageRunSettings['publish'][number]],
      extraHosts: [{ host: 'db', ip: '10.0.0.5' }, { host: 'cache', ip: '10.0.0.5' }, { host: 'gw', ip: 'host-gateway' }],
      dns: { servers: ['10.0.0.53'], search: ['corp.test'], options: ['ndots:2', 'rotate'] },
    }), facts, opts, {}, w);
    const objs = manifestsFor([wl], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    const pod = (byKind(objs, 'Deployment')[0] as Any).spec.template.spec;
    assert.deepEqual(pod.hostAliases, [{ ip: '10.0.0.5', hostnames: ['db', 'cache'] }]);
    assert.equal(pod.dnsPolicy, 'None');
    assert.deepEqual(pod.dnsConfig, { nameservers: ['10.0.0.53'], searches: ['corp.test'], options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }] });
    const svc = (byKind(objs, 'Service')[0] as Any).spec.ports.map((p: Any) => `${p.protocol} ${p.port}->${p.targetPort}`);
    assert.deepEqual(svc, ['TCP 8080->8080', 'UDP 5353->53', 'TCP 80->80', 'TCP 9090->9090'], 'a chosen host port is the port itself; -P publishes what the image exposes and -p did not');
    const text = w.list.join('\n');
    assert.match(text, /host-gateway not carried over/);
    assert.match(text, /network backend: a cluster has one pod network/);
  });

  test('lifecycle: the resolved health check as probes, --stop-timeout as the grace period, labels as annotations, the rest named', async () => {
    const w = new Warnings();
    const wl = workloadFromRun(run({
      restart: { name: 'on-failure', maxRetries: 3 }, stopTimeout: 42, stopSignal: 'SIGQUIT', labels: { 'com.example.team': 'web', 'bad key!': 'x' },
      ulimits: [{ name: 'nofile', soft: 10, hard: 20 }], init: true, logMaxBytes: 1 << 20,
      resolvedHealth: { test: ['CMD-SHELL', 'wget -q -O /dev/null http://localhost:8080/health'], intervalMs: 5000, timeoutMs: 2000, startPeriodMs: 10_000, startIntervalMs: 5000, retries: 2 },
    }), facts, opts, {}, w);
    const objs = manifestsFor([wl], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    const tpl = (byKind(objs, 'Deployment')[0] as Any).spec.template;
    assert.equal(tpl.spec.terminationGracePeriodSeconds, 42);
    assert.deepEqual(tpl.metadata.annotations, { 'com.example.team': 'web' });
    const c = tpl.spec.containers[0];
    assert.deepEqual(c.readinessProbe, { httpGet: { path: '/health', port: 8080 }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 }, 'the run\'s check, not the image\'s');
    assert.equal(c.livenessProbe.initialDelaySeconds, 10);
    const text = w.list.join('\n');
    for (const re of [/--restart on-failure:3 becomes restartPolicy Always/, /--stop-signal SIGQUIT not carried over/, /--ulimit nofile not carried over/, /--init not carried over/,
      /--log-opt max-size not carried over/, /label bad key! not carried over/]) assert.match(text, re);
    const off = workloadFromRun(run({ resolvedHealth: null }), facts, opts, {}, new Warnings());
    assert.equal(off.health, undefined, '--no-healthcheck drops the image\'s HEALTHCHECK too');
  });

  test('--privileged maps to securityContext.privileged, without allowPrivilegeEscalation (Kubernetes refuses both)', async () => {
    const w = new Warnings();
    const wl = workloadFromRun(run({ privileged: true, seccomp: 'unconfined' }), undefined, opts, {}, w);
    const objs = manifestsFor([wl], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    const sc = (objs[0] as Any).spec.template.spec.containers[0].securityContext;
    assert.deepEqual(sc, { privileged: true });
  });

  test('run flags: entrypoint and command as Docker means them, env from the caller, volumes, gVisor', async () => {
    const w = new Warnings();
    const wl = workloadFromRun(run({ entrypoint: '/bin/sh', command: ['-c', 'echo hi'], env: ['A=1', 'HOME', 'UNSET_HERE'], runtime: 'runsc', seccomp: '/etc/isola/strict.json', mounts: [
      { type: 'volume', source: 'data', target: '/data', readOnly: false },
      { type: 'bind', source: '/srv/www', target: '/www', readOnly: true },
      { type: 'volume', target: '/cache', readOnly: false },
      { type: 'tmpfs', target: '/run/t', readOnly: false, sizeBytes: 64 * 1024 ** 2 },
    ] }), undefined, opts, { HOME: '/root' }, w);
    const objs = manifestsFor([wl], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    assert.deepEqual(objs.map((o) => o.kind), ['PersistentVolumeClaim', 'Deployment']);
    const pod = (byKind(objs, 'Deployment')[0] as Any).spec.template.spec;
    assert.deepEqual(pod.containers[0].command, ['/bin/sh']);
    assert.deepEqual(pod.containers[0].args, ['-c', 'echo hi']);
    assert.deepEqual(pod.containers[0].env, [{ name: 'A', value: '1' }, { name: 'HOME', value: '/root' }]);
    assert.equal(pod.runtimeClassName, 'gvisor');
    assert.deepEqual(pod.containers[0].securityContext.seccompProfile, { type: 'Localhost', localhostProfile: 'strict.json' });
    assert.deepEqual(pod.volumes, [
      { name: 'v0', persistentVolumeClaim: { claimName: 'data' } }, { name: 'v1', hostPath: { path: '/srv/www' } },
      { name: 'v2', emptyDir: {} }, { name: 'v3', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    ]);
    assert.equal((byKind(objs, 'PersistentVolumeClaim')[0] as Any).spec.resources.requests.storage, '1Gi');
    const text = w.list.join('\n');
    for (const re of [/-e UNSET_HERE: not set here/, /runtimeClassName: gvisor/, /hostPath/, /anonymous volume \/cache becomes an emptyDir/, /2 replicas share volume data/, /Localhost profile/]) assert.match(text, re);
    assert.equal(nameFromImage('registry.example:5000/team/web:1'), 'web');
    // An instance's record names its volume in volume, its folder in source.
    assert.deepEqual(kubeVolumes([{ type: 'volume', source: '/var/lib/isola/volumes/db/_data', volume: 'db', target: '/db', readOnly: false }]),
      [{ source: { type: 'named', name: 'db' }, target: '/db', readOnly: false }]);
    assert.deepEqual(kubeVolumes([{ type: 'volume', source: '/var/lib/isola/volumes/x/_data', volume: 'x', anonymous: true, target: '/x', readOnly: false }])[0]?.source,
      { type: 'anonymous', fromImage: false });
    assert.throws(() => workloadFromRun(run({ network: 'none', publish: [{ hostIp: '0.0.0.0', hostPort: 1, instancePort: 1 }] }), undefined, opts, {}, new Warnings()), /--publish needs a network/);
  });

  test('--network none: a NetworkPolicy that allows nothing, with a warning that it needs an enforcing plugin', async () => {
    const w = new Warnings();
    const objs = manifestsFor([workloadFromRun(run({ network: 'none' }), undefined, opts, {}, w)], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    const np = byKind(objs, 'NetworkPolicy')[0] as Any;
    assert.deepEqual(np.spec, { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'web' } }, policyTypes: ['Ingress', 'Egress'] });
    assert.match(w.list.join('\n'), /enforces NetworkPolicies/);
  });

  test('two workloads with one Kubernetes name are refused: one would replace the other', () => {
    const a = workloadFromRun(run({ name: 'web_a' }), undefined, opts, {}, new Warnings());
    const b = workloadFromRun(run({ name: 'web-a' }), undefined, opts, {}, new Warnings());
    assert.throws(() => manifestsFor([a, b], new Warnings()), /both be named "web-a"/);
  });
});

describe('isola kube generate: hybrid and vm', () => {
  test('hybrid: a Kata pod and its RuntimeClass, with the measured overhead or Kata\'s default, said in the comment', async () => {
    const w = new Warnings();
    const wl = workloadFromRun(run({ kind: 'hybrid', memoryBytes: 128 * MiB }), undefined, opts, {}, w);
    const measured = manifestsFor([wl], w, { measuredOverhead: { memoryBytes: 183.2 * MiB, file: 'compare.json', accelerator: 'KVM' } });
    const objs = measured.map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    assert.deepEqual(objs.map((o) => o.kind), ['RuntimeClass', 'Deployment']);
    const rc = objs[0] as Any;
    assert.equal(rc.handler, 'kata');
    assert.deepEqual(rc.overhead.podFixed, { memory: '184Mi', cpu: KATA_DEFAULT_OVERHEAD.cpu });
    assert.match(measured[0]?.comment?.join('\n') ?? '', /measured \(compare\.json, KVM\)/);
    assert.equal((objs[1] as Any).spec.template.spec.runtimeClassName, 'kata');
    const fallback = manifestsFor([wl], new Warnings());
    assert.deepEqual((fallback[0]?.object as Any).overhead.podFixed, { memory: '160Mi', cpu: '250m' });
    assert.match(fallback[0]?.comment?.join('\n') ?? '', /Kata's published default/);
  });

  test('vm: a KubeVirt VirtualMachine per replica booting the containerDisk, valid against KubeVirt\'s schema', async () => {
    const w = new Warnings();
    const wl = workloadFromRun(run({ kind: 'vm', cpus: 1.5, publish: [{ hostIp: '0.0.0.0', hostPort: 8080, instancePort: 80 }], env: ['A=1'] }), facts,
      { ...opts, containerDisk: 'registry.example:5000/web-disk:1' }, {}, w);
    const objs = manifestsFor([wl], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    assert.deepEqual(objs.map((o) => `${o.kind} ${o.metadata.name}`), ['VirtualMachine web-0', 'VirtualMachine web-1', 'Service web']);
    const vm = objs[0] as Any;
    assert.equal(vm.apiVersion, 'kubevirt.io/v1');
    const t = vm.spec.template.spec;
    assert.deepEqual(t.volumes, [{ name: 'containerdisk', containerDisk: { image: 'registry.example:5000/web-disk:1' } }]);
    assert.equal(t.domain.memory.guest, `${VM_DEFAULT_MEMORY_MIB}Mi`, 'isola\'s default guest RAM');
    assert.equal(t.domain.cpu.cores, 2);
    assert.equal(t.domain.resources.requests.cpu, '1500m');
    assert.deepEqual(t.networks, [{ name: 'default', pod: {} }]);
    assert.deepEqual(t.readinessProbe.httpGet, { path: '/healthz', port: 80 }, 'an HTTP check reaches the VM without a guest agent');
    assert.equal(t.volumes.some((v: Any) => 'cloudInitNoCloud' in v), false, 'no cloud-init: the disk runs its workload at boot');
    assert.deepEqual((objs[2] as Any).spec.selector, vm.spec.template.metadata.labels['app.kubernetes.io/name'] ? { 'app.kubernetes.io/name': 'web' } : {});
    assert.match(w.list.join('\n'), /not carried over to the VM: environment A/);
  });

  test('vm with --network none has no interface at all; an exec health check is named, not carried', async () => {
    const w = new Warnings();
    const wl = workloadFromRun(run({ kind: 'vm', network: 'none' }), { ...facts, health: { Test: ['CMD', 'pgrep', 'httpd'] } }, { ...opts, replicas: 1, containerDisk: 'r.example/d:1' }, {}, w);
    const objs = manifestsFor([wl], w).map((m) => m.object);
    assert.deepEqual(await schemaProblems(objs), []);
    const t = (objs[0] as Any).spec.template.spec;
    assert.equal(t.domain.devices.autoattachPodInterface, false);
    assert.equal(t.networks, undefined);
    assert.equal(t.readinessProbe, undefined);
    assert.match(w.list.join('\n'), /QEMU guest agent/);
  });

  test('vm without a containerDisk: an error naming the fix', () => {
    const wl = workloadFromRun(run({ kind: 'vm' }), undefined, opts, {}, new Warnings());
    assert.throws(() => manifestsFor([wl], new Warnings()), (e: unknown) => e instanceof IsolaError && /containerDisk/.test(e.message) && /--containerdisk REF/.test(e.hint ?? ''));
  });

  test('the VM default memory is the VM driver\'s', () => {
    assert.equal(VM_DEFAULT_MEMORY_MIB, DEFAULT_MEMORY_MIB);
  });
});

describe('validation can fail', () => {
  const good = (): KubeWorkload => ({
    name: 'web', kind: 'container', image: 'r.example/web:1', replicas: 1, env: [], ports: [], serviceType: 'ClusterIP',
    volumes: [], security: defaultSecurity(), isolatedNetwork: false, origin: 'test',
  });

  test('a broken Deployment, Service and RuntimeClass are rejected by their Kubernetes schemas', async () => {
    const objs = manifestsFor([good(), { ...good(), name: 'h', kind: 'hybrid', ports: [{ containerPort: 80, servicePort: 80 }] }], new Warnings()).map((m) => structuredClone(m.object)) as Any[];
    assert.deepEqual(await schemaProblems(objs), []);
    const d = objs.find((o) => o.kind === 'Deployment');
    d.spec.replicas = 'three';
    const s = objs.find((o) => o.kind === 'Service');
    delete s.spec.ports[0].port;
    const rc = objs.find((o) => o.kind === 'RuntimeClass');
    delete rc.handler;
    const problems = await schemaProblems(objs);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.join('\n'), /Deployment web: .*replicas must be integer/);
    assert.match(problems.join('\n'), /Service h: .*port/);
    assert.match(problems.join('\n'), /RuntimeClass kata: .*handler/);
  });

  test('a broken VirtualMachine is rejected by KubeVirt\'s schema, and a kind without a schema is never called valid', async () => {
    const vm = manifestsFor([{ ...good(), kind: 'vm', containerDisk: 'r.example/d:1' }], new Warnings())[0]?.object as Any;
    assert.deepEqual(await schemaProblems([vm]), []);
    const bad = structuredClone(vm);
    bad.spec.template.spec.domain.cpu.corez = 2;
    bad.spec.template.spec.volumes[0].containerDisk = {};
    const problems = await schemaProblems([bad]);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /VirtualMachine web: .*(corez|image)/);
    assert.match((await validateManifests([vm]))[0] ?? '', /not validated, no KubeVirt schema/);
    assert.match((await validateManifests([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }], kubevirtSchema()))[0] ?? '', /no schema for v1\/ConfigMap/);
  });
});

describe('pieces', () => {
  test('an HTTP health check of localhost becomes httpGet; anything else stays exec', () => {
    assert.deepEqual(httpCheckOf(['CMD', 'curl', '-fsS', 'http://localhost:8080/health']), { port: 8080, path: '/health' });
    assert.deepEqual(httpCheckOf(['CMD-SHELL', 'wget --spider -q http://127.0.0.1/ || exit 1']), { port: 80, path: '/' });
    assert.deepEqual(httpCheckOf(['CMD', 'curl', '-o', '/dev/null', 'http://localhost:81']), { port: 81, path: '/' });
    for (const t of [['CMD', 'curl', 'http://example.com/'], ['CMD-SHELL', 'curl http://localhost/ && touch /ok'], ['CMD', 'curl', '-X', 'POST', 'http://localhost/'],
      ['CMD', 'curl', '-o', '/tmp/x', 'http://localhost/'], ['CMD', 'curl', 'https://localhost/'], ['CMD', 'pgrep', 'x'], ['NONE']]) {
      assert.equal(httpCheckOf(t), undefined, JSON.stringify(t));
    }
  });

  test('names and quantities', () => {
    const w = new Warnings();
    assert.equal(kubeName('web', w), 'web');
    assert.equal(w.list.length, 0);
    assert.equal(kubeName('Brave_Fox.1', w), 'brave-fox-1');
    assert.equal(kubeName('9lives', w), 'lives');
    assert.throws(() => kubeName('123', w), /needs a letter/);
    assert.ok(kubeName('a'.repeat(80), w).length <= 56);
    assert.equal(memoryQuantity(256 * MiB), '256Mi');
    assert.equal(memoryQuantity(2 * 1024 * MiB), '2Gi');
    assert.equal(memoryQuantity(100 * MiB + 1), '101Mi');
    assert.equal(cpuQuantity(0.5), '500m');
    assert.equal(cpuQuantity(2), '2');
    assert.equal(cpuQuantity(0.0001), '1m');
  });

  test('the YAML is one document per object, with comments, without anchors, and reads back the same', () => {
    const wl = workloadFromRun(run({ publish: [{ hostIp: '0.0.0.0', hostPort: 8080, instancePort: 80 }] }), undefined, opts, {}, new Warnings());
    const manifests = manifestsFor([wl], new Warnings());
    const text = renderYaml(manifests, ['header line']);
    assert.equal(text.match(/^---$/gm)?.length, 2);
    assert.match(text, /^---\n# header line\n# image registry\.example:5000\/web:1, as a container\napiVersion: apps\/v1$/m);
    assert.doesNotMatch(text, /[&*]a\d/, 'no YAML anchors or aliases');
    assert.deepEqual(yamlObjects(text), manifests.map((m) => m.object));
  });
});

describe('isola plan --kube', () => {
  const EXAMPLE = path.join(REPO, 'examples', 'workloads.yaml');

  test('every strategy of the worked example: manifests valid, kinds as the plan chose them, nodes as it counted', async () => {
    const inventory = await loadInventory(EXAMPLE);
    const req: PlanRequest = { inventory, flagAssumptions: {} };
    const report = plan(req);
    for (const strategy of STRATEGIES) {
      const w = new Warnings();
      const kp = kubePlan(req, report, strategy, 'ClusterIP', w);
      const objs = manifestsFor(kp.workloads, w).map((m) => m.object);
      assert.deepEqual(await schemaProblems(objs), [], strategy);
      const placement = report.placements.find((p) => p.strategy === strategy);
      assert.match(kp.header.join('\n'), new RegExp(`nodes: ${placement?.hosts} `));
      const instances = { container: 0, vm: 0, hybrid: 0 };
      for (const o of objs as Any[]) {
        if (o.kind === 'Deployment') instances[o.metadata.labels['isola.dev/kind'] as 'container' | 'hybrid'] += o.spec.replicas;
        if (o.kind === 'VirtualMachine') instances.vm += 1;
      }
      assert.deepEqual(instances, placement?.instances, `${strategy}: the manifests hold the instances the plan placed`);
    }
    const advised = kubePlan(req, report, 'advised', 'ClusterIP', new Warnings()).workloads;
    assert.deepEqual(Object.fromEntries(advised.map((w) => [w.name, w.kind])), {
      'payments-api': 'hybrid', storefront: 'container', 'customer-plugins': 'hybrid', 'build-sandbox': 'container', erp: 'vm', reporting: 'container',
    });
    assert.deepEqual(advised.find((w) => w.name === 'build-sandbox')?.security.capDrop, ['ALL'], 'a hardened container drops every capability');
  });

  test('a workload placed as a VM without containerDisk, or as a container without image: file, line and fix', () => {
    const inv = parseInventory('workloads:\n  - name: a\n    os: windows\n    memory: 1Gi\n    cpus: 1\n  - name: b\n    memory: 1Gi\n    cpus: 1\nhosts:\n  - memory: 64G\n    cores: 16\n', 'inv.yaml');
    const req: PlanRequest = { inventory: inv, flagAssumptions: {} };
    const report = plan(req);
    assert.throws(() => kubePlan(req, report, 'advised', 'ClusterIP', new Warnings()), /^IsolaError: inv\.yaml:2: workload "a" is placed as a VM/);
    assert.throws(() => kubePlan(req, report, 'advised', 'ClusterIP', new Warnings()), (e: unknown) => e instanceof IsolaError && /containerDisk: REF/.test(e.hint ?? ''));
    const withDisk = parseInventory('workloads:\n  - name: a\n    os: windows\n    containerDisk: r.example/a:1\n  - name: b\n    memory: 1Gi\n    cpus: 1\nhosts:\n  - memory: 64G\n    cores: 16\n', 'inv.yaml');
    const req2: PlanRequest = { inventory: withDisk, flagAssumptions: {} };
    assert.throws(() => kubePlan(req2, plan(req2), 'advised', 'ClusterIP', new Warnings()), /inv\.yaml:5: workload "b" is placed as a container .* names no image/);
  });
});

describe('--measured: the Kata overhead from a compare result', () => {
  test('the hybrid memory overhead median, with file and accelerator; a file without hybrid is named and Kata\'s default kept', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-kube-measured-'));
    try {
      const file = path.join(dir, 'compare.json');
      fs.writeFileSync(file, JSON.stringify(compareFixture({ accelerator: 'tcg', emulated: true })));
      const w = new Warnings();
      const overhead = await measuredOverhead(file, w);
      assert.deepEqual(overhead, { memoryBytes: 200 * MiB, file: 'compare.json', accelerator: 'emulation (TCG)' });
      assert.deepEqual(w.list, []);
      const noHybrid = compareFixture();
      for (const m of noHybrid.metrics) delete m.kinds.hybrid;
      fs.writeFileSync(file, JSON.stringify(noHybrid));
      assert.equal(await measuredOverhead(file, w), undefined);
      assert.match(w.list.join('\n'), /no hybrid memory overhead.*Kata's published default/);
      fs.writeFileSync(file, '{"format":"other"}');
      await assert.rejects(measuredOverhead(file, w), /--measured .*format/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
