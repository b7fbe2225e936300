import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { renderMetrics, METRIC_STATES } from '../../../src/api/metrics.js';
import { KINDS, type Kind, type Stats } from '../../../src/core/types.js';
import { parseBlockIo } from '../../../src/drivers/container/stats.js';
import { blockBytes } from '../../../src/drivers/vm/stats.js';
import { NEW_LIFE, type InstanceLife, type InstanceRecord } from '../../../src/state/instances.js';

function rec(id: string, kind: Kind, state: InstanceRecord['state'], life: Partial<InstanceLife> = {}): InstanceRecord {
  return { id, name: `n-${id}`, kind, imageRef: 'base:latest', state, life: { ...NEW_LIFE, ...life } } as InstanceRecord;
}

const STATS: Stats = {
  time: '2026-01-01T00:00:00Z', cpuNanos: 2_500_000_000, memoryBytes: 1000, memoryLimitBytes: 4096, pids: 3,
  netRxBytes: 10, netTxBytes: 20, hostOverheadBytes: 777, blockReadBytes: 5, blockWriteBytes: 6,
};

/** The value of one series, found by its name and labels in the text format. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test('metrics: per-instance figures labelled by id, name, image and kind; per kind and state counts, zero-filled', async () => {
  const recs = [
    rec('a1', 'container', 'running', { restartCount: 2, health: { status: 'healthy', failingStreak: 0, log: [], checker: null } }),
    rec('b2', 'vm', 'running', { paused: true }),
    rec('c3', 'hybrid', 'exited'),
    rec('d4', 'vm', 'running'),
  ];
  const asked: string[] = [];
  const text = await renderMetrics({
    records: () => Promise.resolve(recs),
    stats: (r) => {
      asked.push(r.id);
      return r.id === 'd4' ? new Promise<Stats>(() => undefined) : Promise.resolve(STATS);
    },
  }, 100);
  const a = { id: 'a1', name: 'n-a1', image: 'base:latest', kind: 'container' };
  assert.equal(value(text, 'isola_instance_cpu_seconds_total', a), 2.5);
  assert.equal(value(text, 'isola_instance_memory_bytes', a), 1000);
  assert.equal(value(text, 'isola_instance_memory_limit_bytes', a), 4096);
  assert.equal(value(text, 'isola_instance_isolation_overhead_bytes', a), 777);
  assert.equal(value(text, 'isola_instance_pids', a), 3);
  assert.equal(value(text, 'isola_instance_network_receive_bytes_total', a), 10);
  assert.equal(value(text, 'isola_instance_network_transmit_bytes_total', a), 20);
  assert.equal(value(text, 'isola_instance_block_read_bytes_total', a), 5);
  assert.equal(value(text, 'isola_instance_block_write_bytes_total', a), 6);
  assert.equal(value(text, 'isola_instance_restarts_total', a), 2);
  assert.equal(value(text, 'isola_instance_health_status', { ...a, status: 'healthy' }), 1);
  assert.equal(value(text, 'isola_instance_health_status', { ...a, status: 'unhealthy' }), 0);
  // A paused VM's guest cannot answer: not asked. A stopped one has no figures, only its state.
  assert.deepEqual(asked.sort(), ['a1', 'd4']);
  assert.equal(value(text, 'isola_instance_memory_bytes', { id: 'b2' }), undefined);
  assert.equal(value(text, 'isola_instance_running', { id: 'c3' }), 0);
  assert.equal(value(text, 'isola_instance_info', { id: 'b2', state: 'paused' }), 1);
  // One that does not answer in time is given up and counted.
  assert.equal(value(text, 'isola_instance_memory_bytes', { id: 'd4' }), undefined);
  assert.match(text, /^isola_scrape_stats_failures 1$/m);
  for (const kind of KINDS) for (const state of METRIC_STATES) assert.notEqual(value(text, 'isola_instances', { kind, state }), undefined, `${kind} ${state}`);
  assert.equal(value(text, 'isola_instances', { kind: 'vm', state: 'paused' }), 1);
  assert.equal(value(text, 'isola_instances', { kind: 'vm', state: 'running' }), 1);
  assert.equal(value(text, 'isola_instances', { kind: 'container', state: 'exited' }), 0);
});

test('metrics: promtool check metrics accepts the output', async () => {
  const text = await renderMetrics({ records: () => Promise.resolve([rec('a1', 'container', 'running')]), stats: () => Promise.resolve(STATS) });
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'promtool is Debian\'s prometheus package');
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint remarks either');
});

test('block I/O: cgroup v2 io.stat and v1 blkio lines, and QEMU\'s query-blockstats, summed over devices', () => {
  assert.deepEqual(parseBlockIo('8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n253:1 rbytes=100 wbytes=0 rios=1 wios=0\n', true), { read: 4196, write: 512 });
  assert.deepEqual(parseBlockIo('8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Total 30\n7:1 Read 5\nTotal 35\n', false), { read: 15, write: 20 });
  assert.deepEqual(blockBytes([{ device: '', 'node-name': 'root', stats: { rd_bytes: 1000, wr_bytes: 24 } }, { device: 'x', stats: { rd_bytes: 1, wr_bytes: 2 } }]), { read: 1001, write: 26 });
  assert.equal(blockBytes({ error: 'x' }), null);
});
