import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guestConfig, vmSpecOf } from '../../../src/drivers/hybrid/launch.js';
import { ociConfig } from '../../../src/drivers/container/launch.js';
import type { InstanceSpec } from '../../../src/core/types.js';

const spec = {
  id: 'a'.repeat(64), name: 'h', kind: 'hybrid', argv: ['sleep', '1'], env: ['PATH=/bin'], workdir: '/', user: '', hostname: 'h',
  image: { ref: 'base:latest', digest: 'sha256:1', layers: ['/x'], layerDigests: ['sha256:2'], config: { env: [], entrypoint: [], cmd: [], workingDir: '', user: '' } },
  readOnly: true, memoryBytes: 64 * 1048576, pidsLimit: 10, network: { mode: 'none' },
  security: { privileged: false, capAdd: ['CAP_NET_ADMIN'], capDrop: [], seccomp: 'default', noNewPrivileges: true },
  runtime: '', dir: '/d', runDir: '/r', cleanupCommand: [],
} as unknown as InstanceSpec;

test('the in-guest config.json carries the host container\'s hardening', () => {
  const guest = guestConfig({ spec, uid: 0, gid: 0, additionalGids: [], seccomp: null }) as { process: Record<string, unknown>; root: unknown; linux: Record<string, unknown> };
  const host = ociConfig({
    spec, rootfs: '/bundle/rootfs', uid: 0, gid: 0, additionalGids: [], netnsPath: null, seccomp: null,
    etcFiles: { hostname: '/run/isola/etc/hostname', hosts: '/run/isola/etc/hosts', resolv: '/run/isola/etc/resolv.conf' },
    cgroupsPath: '/isola/workload', nofile: 1048576, swapAccounting: false,
  }) as { process: Record<string, unknown>; root: unknown; linux: Record<string, unknown> };
  assert.deepEqual(guest.process.capabilities, host.process.capabilities);
  assert.equal(guest.process.noNewPrivileges, true);
  assert.deepEqual(guest.root, { path: '/bundle/rootfs', readonly: true });
  assert.deepEqual(guest.linux.maskedPaths, host.linux.maskedPaths);
  assert.deepEqual(guest.linux.resources, host.linux.resources);
  const ns = (guest.linux.namespaces as { type: string }[]).map((n) => n.type);
  assert.deepEqual(ns, ['pid', 'ipc', 'uts', 'mount', 'cgroup'], 'no network namespace: the container uses the VM\'s NIC');
});

test('the VM boots the start script as root on a writable disk, with room for the guest', () => {
  const v = vmSpecOf(spec, 160 * 1048576);
  assert.deepEqual(v.argv, ['/bin/sh', '/.isola/start']);
  assert.equal(v.user, '');
  assert.equal(v.readOnly, false, 'read-only applies to the container\'s root, not the guest\'s');
  assert.equal(v.image.digest, spec.image.digest, 'the image is the container\'s; the hybrid driver brings the disk');
  assert.equal(v.memoryBytes, 160 * 1048576);
});
