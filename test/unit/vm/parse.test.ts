import { parseProcessList } from '../../../src/drivers/vm/watch.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStatus } from '../../../src/drivers/vm/monitor.js';
import { parseK8sLine as parseLogLine } from '../../../src/drivers/cri-log.js';
import { parseGuestStats, vmmOverheadBytes } from '../../../src/drivers/vm/stats.js';
import { FrameReader, encodeFrame } from '../../../src/drivers/vm/agent.js';
import { decodeRecords, encodeRecords } from '../../../src/guest/records.js';
import { cpioArchive } from '../../../src/guest/cpio.js';
import { moduleLoadOrder, parseKernelDependency } from '../../../src/guest/setup.js';
import { ext4SizeBytes } from '../../../src/guest/ext4.js';

test('status lines: started, then exit; or an exec error', () => {
  assert.deepEqual(parseStatus('started 82 1.175\nexit 7\n'), { startedPid: 82, error: null, exitCode: 7 });
  assert.deepEqual(parseStatus('error 127 nope: No such file or directory\n'), { startedPid: null, error: { code: 127, message: 'nope: No such file or directory' }, exitCode: null });
  assert.deepEqual(parseStatus(''), { startedPid: null, error: null, exitCode: null });
});

test('CRI log lines: stream, full or partial, text with spaces kept', () => {
  assert.deepEqual(parseLogLine('2026-01-01T00:00:00.123456789Z stdout F hello  world'), { time: '2026-01-01T00:00:00.123456789Z', stream: 'stdout', partial: false, text: 'hello  world' });
  assert.deepEqual(parseLogLine('2026-01-01T00:00:00Z stderr P '), { time: '2026-01-01T00:00:00Z', stream: 'stderr', partial: true, text: '' });
  assert.equal(parseLogLine('[    0.2] kernel chatter'), null);
});

test('guest stats: used memory, busy CPU time, eth0 counters, processes', () => {
  const payload = [
    '== meminfo ==', 'MemTotal:         228000 kB', 'MemFree:          200000 kB', 'MemAvailable:     210000 kB',
    '== stat ==', 'cpu  10 2 30 1000 5 1 1 0 0 0', 'cpu0 10 2 30 1000 5 1 1 0 0 0',
    '== netdev ==', 'Inter-|   Receive', ' face |bytes    packets', '    lo: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0', '  eth0: 1234 5 0 0 0 0 0 0 5678 6 0 0 0 0 0 0',
    '== loadavg ==', '0.00 0.00 0.00 1/60 90', '== pids ==', '3', '',
  ].join('\n');
  const s = parseGuestStats(payload);
  assert.equal(s.memoryBytes, 18000 * 1024);
  assert.equal(s.memoryLimitBytes, 228000 * 1024);
  assert.equal(s.cpuNanos, (10 + 2 + 30 + 1 + 1 + 0) * 10_000_000);
  assert.equal(s.netRxBytes, 1234);
  assert.equal(s.netTxBytes, 5678);
  assert.equal(s.pids, 3);
});

test('VMM overhead: resident memory minus the guest RAM mapping', () => {
  const guest = 256 * 1024 * 1024;
  const smaps = [
    '55d000000000-55d000100000 r-xp 00000000 08:01 123 /usr/bin/qemu-system-x86_64', 'Rss:                1000 kB',
    `7f0000000000-${(0x7f0000000000 + guest).toString(16)} rw-p 00000000 00:00 0 `, 'Rss:               30000 kB',
    '7f1000000000-7f1000200000 rw-p 00000000 00:00 0 ', 'Rss:                2000 kB',
  ].join('\n');
  assert.deepEqual(vmmOverheadBytes(smaps, guest), { rss: 33000 * 1024, guestRss: 30000 * 1024, overhead: 3000 * 1024 });
});

test('agent frames survive being split anywhere', () => {
  const bytes = Buffer.concat([encodeFrame('O', 'hello'), encodeFrame('X', '3'), encodeFrame('C')]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = new FrameReader();
    const frames = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
    assert.deepEqual(frames.map((f) => `${f.type}:${f.payload.toString()}`), ['O:hello', 'X:3', 'C:']);
  }
});

test('records round-trip, and NUL bytes are refused', () => {
  const r = { argv: ['sh', '-c', 'echo "a b"\nexit 3'], env: ['A=1', 'B='], workdir: '/tmp', user: '65534:65534', hostname: 'h', ip: '10.77.0.5/16', gateway: '10.77.0.1', readOnly: true };
  assert.deepEqual(decodeRecords(encodeRecords(r)), r);
  const t = { argv: ['sh'], env: [], tty: true, stdin: 'once' as const, size: { rows: 24, cols: 80 } };
  assert.deepEqual(decodeRecords(encodeRecords(t)), t, 'terminal records: t, s, z');
  assert.match(encodeRecords(t).toString(), /\0y1\0sonce\0z24 80\0$/);
  assert.throws(() => encodeRecords({ argv: ['a\0b'], env: [] }), /NUL/);
  const m = {
    argv: ['tar-c', '/x'], env: [], builtin: true, root: '/proc/7/root',
    shares: [{ tag: 'isola0', target: '/with\ttab and space', readOnly: true }],
    tmpfs: [{ target: '/t', readOnly: false, noExec: true, mode: 0o1770, sizeBytes: 4096 }, { target: '/u', readOnly: true, noExec: false, mode: 0o755 }],
  };
  assert.deepEqual(decodeRecords(encodeRecords(m)), m, 'shares, tmpfs mounts and builtins too (the path last, so it may hold tabs)');
});

test('records carry every NIC (by MAC, with its name and address) and the guest\'s /etc files', () => {
  const r = {
    argv: ['true'], env: [], gateway: '10.78.0.1',
    interfaces: [{ mac: '02:aa:bb:cc:dd:ee', name: 'eth0', ip: '10.78.0.2/24' }, { mac: '06:aa:bb:cc:dd:ee', name: 'eth1', ip: '10.77.0.9/16' }],
    hosts: '127.0.0.1\tlocalhost\n10.78.0.3\tapi\n', resolv: 'nameserver 198.18.7.2\nsearch a b\n',
  };
  assert.deepEqual(decodeRecords(encodeRecords(r)), r);
});

test('cpio newc: headers, 4-byte alignment, device nodes, trailer', () => {
  const a = cpioArchive([{ type: 'dir', name: 'dev' }, { type: 'char', name: 'dev/console', major: 5, minor: 1 }, { type: 'file', name: 'init', data: Buffer.from('abc'), mode: 0o755 }]);
  assert.equal(a.length % 4, 0);
  const text = a.toString('latin1');
  assert.equal(text.split('070701').length - 1, 4);
  const consoleHdr = text.slice(text.indexOf('dev/console') - 110, text.indexOf('dev/console'));
  assert.equal(parseInt(consoleHdr.slice(6 + 8, 6 + 16), 16), 0o020600, 'a character device, mode 600');
  assert.equal(parseInt(consoleHdr.slice(6 + 9 * 8, 6 + 10 * 8), 16), 5, 'rdevmajor');
  assert.equal(parseInt(consoleHdr.slice(6 + 10 * 8, 6 + 11 * 8), 16), 1, 'rdevminor');
  assert.ok(text.includes('TRAILER!!!'));
});

test('kernel package from apt-cache depends; module order puts dependencies first', () => {
  assert.equal(parseKernelDependency('linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n'), 'linux-image-6.1.0-56-cloud-amd64');
  assert.equal(parseKernelDependency('linux-image-cloud-amd64\n'), null);
  const dep = [
    'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
    'kernel/net/core/failover.ko:',
    'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  ].join('\n');
  const order = moduleLoadOrder(dep, ['virtio_blk', 'virtio_net', 'not_a_module']).map((m) => m.split('/').pop());
  assert.deepEqual(order, ['virtio_ring.ko', 'virtio.ko', 'virtio_blk.ko', 'failover.ko', 'net_failover.ko', 'virtio_net.ko']);
});

test('root disk size leaves free space and rounds to MiB', () => {
  const mib = 1024 * 1024;
  const s = ext4SizeBytes(3 * mib);
  assert.equal(s % mib, 0);
  assert.ok(s >= 3 * mib + 512 * mib);
});

test('the agent\'s process list becomes top rows with each process\'s cgroup; limits travel as records', () => {
  const text = 'uptime 100.00\n1\t0\t0\t50\t10\t/\t/init\n57\t1\t65534\t250\t9500\t/isola/workload\tsleep 600\n';
  const rows = parseProcessList(text, Date.parse('2024-05-01T12:00:00Z'));
  assert.deepEqual(rows.map((r) => [r.info.pid, r.info.ppid, r.info.uid, r.info.cpuSeconds, r.info.cmd, r.cgroup]), [
    [1, 0, '0', 0.5, '/init', '/'],
    [57, 1, '65534', 2.5, 'sleep 600', '/isola/workload'],
  ]);
  const r = { argv: ['a'], env: [], limits: ['nofile 10 20', 'core -1 -1'] };
  assert.deepEqual(decodeRecords(encodeRecords(r)).limits, ['nofile 10 20', 'core -1 -1']);
});
