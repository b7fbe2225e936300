import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import type { SecurityProfile } from '../../../src/security/profile.js';

/**
 * The same image as a container, a VM and a container inside a VM: their measured security
 * profiles differ exactly where the isolation differs, and agree where it does not.
 */
describe('security profile of the three kinds', { timeout: 600_000 }, () => {
  let fx: Fixture;
  const p: Record<string, SecurityProfile> = {};
  const names = ['k-container', 'k-vm', 'k-hybrid', 'k-hybrid-priv'];

  before(async () => {
    fx = await makeFixture();
    const runs: [string, string[]][] = [
      ['k-container', ['--as', 'container']],
      ['k-vm', ['--as', 'vm']],
      ['k-hybrid', ['--as', 'hybrid']],
      ['k-hybrid-priv', ['--as', 'hybrid', '--privileged']],
    ];
    for (const [name, flags] of runs) {
      const r = await isola(fx.root, ['run', '-d', '--name', name, ...flags, 'base', 'sleep', '600'], { timeoutMs: 180_000 });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      const s = await isola(fx.root, ['inspect', '--security', '--json', name], { timeoutMs: 120_000 });
      assert.equal(s.code, 0, `${name}: ${s.stderr}`);
      p[name] = (JSON.parse(s.stdout) as SecurityProfile[])[0] as SecurityProfile;
    }
  });
  after(async () => {
    for (const n of names) await isola(fx.root, ['rm', '-f', n]);
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  const c = () => p['k-container'] as SecurityProfile;
  const v = () => p['k-vm'] as SecurityProfile;
  const h = () => p['k-hybrid'] as SecurityProfile;
  const status = (x: SecurityProfile, id: string) => x.checklist.find((i) => i.id === id)?.status;

  test('kernel: shared for the container, separate for the VM and the hybrid', () => {
    assert.equal(c().kernel.shared, true);
    assert.equal(c().kernel.instance, c().kernel.host);
    for (const x of [v(), h()]) {
      assert.equal(x.kernel.shared, false);
      assert.notEqual(x.kernel.instance, null);
      assert.match(x.kernel.evidence, /differs from the host's/);
      assert.equal(x.level.kernel, 'Separate');
    }
    assert.equal(c().level.kernel, 'Shared');
  });

  test('what the host runs: the workload itself, or QEMU', () => {
    assert.equal(c().hostProcess.command, 'sleep');
    assert.ok(c().hostProcess.ownNamespaces.includes('pid'));
    for (const x of [v(), h()]) {
      assert.match(x.hostProcess.command, /^qemu/);
      // QEMU is jailed: its own mount, network, IPC, UTS and cgroup namespaces; the host's pid
      // namespace (its pid is the one isola records) and user namespace (its uid is a host uid).
      assert.deepEqual([...x.hostProcess.ownNamespaces].sort(), ['cgroup', 'ipc', 'mnt', 'net', 'uts']);
    }
  });

  test('namespaces: own for the container and the in-guest container, none inside a plain VM', () => {
    for (const ns of ['mnt', 'pid', 'net', 'ipc', 'uts']) assert.ok(c().workload.namespaces.own.includes(ns), `container ${ns}`);
    assert.deepEqual(v().workload.namespaces.own, []);
    for (const ns of ['mnt', 'pid', 'ipc', 'uts']) assert.ok(h().workload.namespaces.own.includes(ns), `hybrid ${ns}`);
    assert.ok(h().workload.namespaces.sharedWithKernelInit.includes('net'), 'the hybrid container uses the VM\'s NIC');
  });

  test('capabilities and seccomp: restricted in both containers, full and unfiltered inside the VM', () => {
    assert.equal(c().workload.capabilities.count, 14);
    assert.deepEqual(h().workload.capabilities.effective, c().workload.capabilities.effective, 'the same hardened defaults in the guest');
    assert.equal(v().workload.capabilities.count, v().workload.capabilities.of);
    assert.equal(c().workload.seccomp.mode, 'filter');
    assert.equal(h().workload.seccomp.mode, 'filter');
    assert.equal(v().workload.seccomp.mode, 'disabled');
    assert.equal(c().workload.noNewPrivileges, true);
    assert.equal(h().workload.noNewPrivileges, true);
    assert.equal(status(c(), 'capabilities'), 'pass');
    assert.equal(status(h(), 'capabilities'), 'pass');
    assert.equal(status(v(), 'capabilities'), 'n/a');
    assert.equal(status(v(), 'seccomp'), 'n/a');
  });

  test('limits: a container without -m is unbounded; a VM is bounded by its RAM', () => {
    assert.equal(status(c(), 'memory-limit'), 'fail');
    assert.equal(status(v(), 'memory-limit'), 'pass');
    assert.equal(status(h(), 'memory-limit'), 'pass');
  });

  test('escape difficulty in the words of the common comparison\'s security table', () => {
    assert.equal(c().level.escapeDifficulty, 'Harder but possible');
    assert.equal(c().level.cveImpact, 'May affect all containers');
    assert.match(v().level.escapeDifficulty, /^Very Hard \(out of the VM, then out of a jailed VMM \(uid \d+, no capabilities, seccomp filter/);
    assert.equal(v().level.cveImpact, 'Limited to VM');
    assert.match(h().level.escapeDifficulty, /^Very Hard \(out of the container, then out of the VM, then out of a jailed VMM/);
    assert.ok(h().level.layers.some((l) => l.startsWith('seccomp')) && h().level.layers.some((l) => l.startsWith('own kernel')));
  });

  test('the VMM is measured like any process: unprivileged, no capabilities, seccomp, its own namespaces', () => {
    for (const x of [v(), h()]) {
      assert.ok(x.hostProcess.uid >= 2_100_000_000, `uid ${x.hostProcess.uid}`);
      assert.equal(x.hostProcess.capabilities, 0);
      assert.equal(x.hostProcess.seccomp, 'filter');
      for (const ns of ['mnt', 'net', 'ipc', 'uts', 'cgroup']) assert.ok(x.hostProcess.ownNamespaces.includes(ns), `own ${ns}: ${x.hostProcess.ownNamespaces.join(',')}`);
      assert.equal(x.hostProcess.vmm?.confined, true, x.hostProcess.vmm?.summary);
    }
    assert.equal(c().hostProcess.vmm, null, 'a container has no VMM');
  });

  test('--privileged in the hybrid guest: every capability of the guest kernel, still a separate kernel', () => {
    const x = p['k-hybrid-priv'] as SecurityProfile;
    assert.equal(x.workload.privileged, true);
    assert.equal(x.workload.seccomp.mode, 'disabled');
    assert.equal(status(x, 'privileged'), 'fail');
    assert.equal(x.kernel.shared, false);
    assert.match(x.level.escapeDifficulty, /^Very Hard/);
  });

  test('exec in the hybrid runs in the container inside the guest', async () => {
    const r = await isola(fx.root, ['exec', 'k-hybrid', 'sh', '-c', 'cat /proc/1/cgroup; uname -r; cat /proc/1/comm']);
    assert.equal(r.code, 0, r.stderr);
    const [cgroup, kernel, comm] = r.stdout.trim().split('\n');
    assert.equal(cgroup, '0::/', 'its own cgroup namespace on the guest\'s cgroup v2');
    assert.equal(kernel, h().kernel.instance);
    assert.equal(comm, 'sleep', 'pid 1 of its pid namespace is the workload');
  });

  test('text output names the level and the checklist', async () => {
    const r = await isola(fx.root, ['inspect', '--security', 'k-hybrid']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Isolation: kernel separate; escape difficulty: Very Hard \(out of the container, then out of the VM, then out of a jailed VMM/);
    assert.match(r.stdout, /VMM +jailed: uid \d+, no capabilities/);
    assert.match(r.stdout, /PASS {2}5\.3 +Linux capabilities are restricted/);
  });
});

describe('isola host lists the OCI runtimes', () => {
  test('runc usable, crun not (with its reason), runsc not installed', async () => {
    const fx = await makeFixture();
    try {
      const r = await isola(fx.root, ['host']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /runtime\.runc:\s+usable/);
      assert.match(r.stdout, /runtime\.crun:\s+(usable|not usable: \S.*)/);
      assert.match(r.stdout, /runtime\.runsc:\s+(usable|not usable: runsc is not installed)/);
      assert.match(r.stdout, /hybrid: available/);
    } finally {
      await fx.dispose();
    }
  });
});
