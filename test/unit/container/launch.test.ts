import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ociConfig, MASKED_PATHS, INIT_PATH, serializeOci } from '../../../src/drivers/container/launch.js';
import { DEFAULT_SECCOMP, loadSeccompProfile, toOciSeccomp, countFilteredSyscalls } from '../../../src/drivers/container/seccomp.js';
import { ALL_CAPS, DEFAULT_CAPS, effectiveCaps, normalizeCap, processBoundingCaps } from '../../../src/core/caps.js';
import { parseK8sLine } from '../../../src/drivers/cri-log.js';
import { resolveUser } from '../../../src/drivers/container/user.js';
import { conmonStdioArgs } from '../../../src/drivers/container/monitor.js';
import { ctlResizeLine } from '../../../src/drivers/container/attach.js';
import { isIsolaError } from '../../../src/core/errors.js';
import type { InstanceSpec } from '../../../src/core/types.js';
import os from 'node:os';
import path from 'node:path';

// config.json is an untyped JSON document; tests read it by path.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function spec(over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    id: 'a'.repeat(64), name: 'n', kind: 'container',
    image: { ref: 'base:latest', digest: 'sha256:x', layers: [], layerDigests: [], config: { env: [], entrypoint: [], cmd: ['sh'], workingDir: '/', user: '' } },
    argv: ['sh'], env: ['A=1'], workdir: '/w', user: '', hostname: 'h', readOnly: false,
    network: { mode: 'none' }, security: { privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true },
    runtime: '', dir: '/d', runDir: '/r', cleanupCommand: [], ...over,
  };
}
const base = { rootfs: '/rootfs', uid: 0, gid: 0, additionalGids: [], netnsPath: null, seccomp: null, etcFiles: { hostname: '/e/h', hosts: '/e/hosts', resolv: '/e/r' }, cgroupsPath: '/isola/x', swapAccounting: true, nofile: 20000, boundingCaps: ALL_CAPS };

test('config.json: hardened defaults, limits and namespaces', () => {
  const c = ociConfig({ ...base, spec: spec({ memoryBytes: 64 << 20, cpus: 0.5, pidsLimit: 100 }) }) as Json;
  assert.deepEqual(c.process.capabilities.effective, effectiveCaps([], [], false));
  assert.equal(c.process.noNewPrivileges, true);
  assert.deepEqual(c.linux.maskedPaths, MASKED_PATHS);
  assert.deepEqual(c.linux.resources.memory, { limit: 64 << 20, swap: 64 << 20 });
  assert.deepEqual(c.linux.resources.cpu, { quota: 50000, period: 100000 });
  assert.deepEqual(c.linux.resources.pids, { limit: 100 });
  assert.deepEqual(c.linux.namespaces.map((n: Json) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(c.process.cwd, '/w');
  assert.equal(c.process.rlimits[0].hard, 20000);
});

test('config.json: privileged and read-only change what they should', () => {
  const p = ociConfig({ ...base, spec: spec({ readOnly: true, security: { privileged: true, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true } }) }) as Json;
  assert.equal(p.root.readonly, true);
  assert.ok(p.mounts.some((m: Json) => m.destination === '/tmp' && m.type === 'tmpfs'), 'writable /tmp on a read-only root');
  assert.equal(p.linux.maskedPaths, undefined);
  assert.ok(p.process.capabilities.effective.includes('CAP_SYS_ADMIN'));
});

test('capabilities: Docker defaults, drop then add, names normalised', () => {
  assert.deepEqual(new Set(effectiveCaps([], [], false)), new Set(DEFAULT_CAPS));
  assert.ok(!effectiveCaps([], ['CAP_NET_RAW'], false).includes('CAP_NET_RAW'));
  assert.deepEqual(effectiveCaps(['CAP_CHOWN'], ['ALL'], false), ['CAP_CHOWN']);
  assert.equal(normalizeCap('net_admin'), 'CAP_NET_ADMIN');
  const bounded = effectiveCaps([], [], true, processBoundingCaps('CapBnd:\t000001fffeffffff\n'));
  assert.ok(!bounded.includes('CAP_SYS_RESOURCE'), 'privileged stays within the bounding set (bit 24 clear here)');
  assert.equal(bounded.length, ALL_CAPS.length - 1);
  assert.throws(() => normalizeCap('FLY'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /unknown capability/.test(e.message));
});

test('seccomp: the containers-common profile converts for the granted capabilities', () => {
  const profile = loadSeccompProfile(DEFAULT_SECCOMP);
  const plain = toOciSeccomp(profile, DEFAULT_CAPS);
  const admin = toOciSeccomp(profile, [...DEFAULT_CAPS, 'CAP_SYS_ADMIN']);
  assert.equal(plain.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok(plain.architectures.includes('SCMP_ARCH_X86_64'));
  const allowed = (p: typeof plain) => new Set(p.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
  assert.ok(!allowed(plain).has('bpf'), 'bpf needs CAP_SYS_ADMIN');
  assert.ok(allowed(admin).has('bpf'));
  assert.ok(countFilteredSyscalls(plain) > 300);
});

test('seccomp: a profile that does not parse is a one-line error', () => {
  const f = path.join(os.tmpdir(), `isola-bad-seccomp-${process.pid}.json`);
  fs.writeFileSync(f, '{ not json');
  try {
    assert.throws(() => loadSeccompProfile(f), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && !e.message.includes('\n'));
    assert.throws(() => loadSeccompProfile('/nonexistent.json'), (e) => isIsolaError(e, 'NOT_FOUND'));
  } finally {
    fs.rmSync(f);
  }
});

test('k8s-file log lines parse into stream, time and partial flag', () => {
  assert.deepEqual(parseK8sLine('2024-01-01T00:00:00.1+00:00 stderr F oops: x y'), { time: '2024-01-01T00:00:00.1+00:00', stream: 'stderr', partial: false, text: 'oops: x y' });
  assert.equal(parseK8sLine('2024 stdout P half')?.partial, true);
  assert.equal(parseK8sLine('garbage'), null);
});

test('users resolve against the image\'s own passwd and group files', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-user-'));
  try {
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n');
    fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
    assert.deepEqual(resolveUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [2000] });
    assert.deepEqual(resolveUser(root, '1000:extra'), { uid: 1000, gid: 2000, additionalGids: [2000] });
    assert.deepEqual(resolveUser(root, '4242'), { uid: 4242, gid: 4242, additionalGids: [] });
    assert.throws(() => resolveUser(root, 'ghost'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('config.json: user mounts as rbind with propagation and ro, tmpfs with size and mode, replacing a default at the same path', () => {
  const c = ociConfig({
    ...base,
    spec: spec({
      mounts: [
        { type: 'bind', source: '/srv/www/sub', target: '/www/sub', readOnly: false, propagation: 'rprivate' },
        { type: 'bind', source: '/srv/www', target: '/www', readOnly: true, propagation: 'rslave' },
        { type: 'volume', source: '/root/volumes/v/_data', target: '/data', readOnly: false, propagation: 'rprivate', volume: 'v' },
        { type: 'tmpfs', target: '/dev/shm', readOnly: false, sizeBytes: 1 << 20, mode: 0o1770, noExec: true },
      ],
    }),
  }) as Json;
  const user = c.mounts.slice(-4);
  assert.deepEqual(user.map((m: Json) => m.destination), ['/www', '/data', '/www/sub', '/dev/shm'], 'parents before children');
  assert.deepEqual(user[0], { destination: '/www', type: 'bind', source: '/srv/www', options: ['rbind', 'rslave', 'ro'] });
  assert.deepEqual(user[1].options, ['rbind', 'rprivate']);
  assert.deepEqual(user[3], { destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=1770', `size=${1 << 20}`] });
  assert.equal(c.mounts.filter((m: Json) => m.destination === '/dev/shm').length, 1, 'the default /dev/shm gave way');
  assert.equal(c.linux.rootfsPropagation, 'rslave', 'a slave bind needs a slave root');
  const h = ociConfig({ ...base, mountSources: new Map([['/data', '/.isola/shares/0']]), spec: spec({ mounts: [{ type: 'volume', source: '/host/v', target: '/data', readOnly: true, propagation: 'rprivate' }] }) }) as Json;
  assert.deepEqual(h.mounts.at(-1), { destination: '/data', type: 'bind', source: '/.isola/shares/0', options: ['rbind', 'rprivate', 'ro'] }, 'the hybrid guest binds its share');
  assert.equal(h.linux.rootfsPropagation, undefined);
});

test('terminals: process.terminal with -t; conmon -t, or -i with a stdin pipe that outlives clients unless StdinOnce', () => {
  assert.equal((ociConfig({ ...base, spec: spec() }) as Json).process.terminal, false);
  assert.equal((ociConfig({ ...base, spec: spec({ tty: true }) }) as Json).process.terminal, true);
  assert.deepEqual(conmonStdioArgs({}), []);
  assert.deepEqual(conmonStdioArgs({ tty: true, stdinOpen: true, stdinOnce: true }), ['-t'], 'conmon keeps the terminal\'s stdin itself');
  assert.deepEqual(conmonStdioArgs({ stdinOpen: true, stdinOnce: true }), ['-i']);
  assert.deepEqual(conmonStdioArgs({ stdinOpen: true, stdinOnce: false }), ['-i', '--leave-stdin-open']);
  assert.equal(ctlResizeLine({ rows: 40, cols: 120 }), '1 40 120\n', 'conmon\'s WIN_RESIZE_EVENT: height, then width');
  assert.equal(ctlResizeLine({ rows: 0, cols: 5000 }), '1 1 1000\n', 'kept inside what conmon accepts');
});

test('config.json: --ulimit as OCI rlimits (unlimited as the uint64 runc expects), --init as tini mounted at /sbin/docker-init, --device', () => {
  const dev = { hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rwm', type: 'c' as const, major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };
  const s = spec({ ulimits: [{ name: 'nproc', soft: 10, hard: 20 }, { name: 'core', soft: -1, hard: -1 }], init: true, devices: [dev] });
  const c = ociConfig({ ...base, spec: s, initBinary: '/usr/bin/tini-static' }) as Json;
  assert.deepEqual(c.process.rlimits.map((r: Json) => r.type), ['RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_CORE']);
  const text = serializeOci(c);
  assert.match(text, /"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615/);
  assert.deepEqual(c.process.args, [INIT_PATH, '--', 'sh']);
  assert.ok(c.mounts.some((m: Json) => m.destination === INIT_PATH && m.source === '/usr/bin/tini-static' && m.options.includes('ro')));
  assert.deepEqual(c.linux.devices, [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
  assert.deepEqual(c.linux.resources.devices.at(-1), { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' });
  const own = ociConfig({ ...base, spec: spec({ ulimits: [{ name: 'nofile', soft: 100, hard: 200 }] }) }) as Json;
  assert.deepEqual(own.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }], '--ulimit nofile replaces the default');
  const plain = ociConfig({ ...base, spec: spec() }) as Json;
  assert.deepEqual(plain.process.args, ['sh'], 'no init unless asked');
  assert.equal(plain.linux.devices, undefined);
});
