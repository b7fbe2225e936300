import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseRtts, probeBinary } from '../../../src/bench/probe-binary.js';
import { cpuForRound, networkPlan } from '../../../src/bench/scenarios/network.js';
import { run } from '../../../src/util/exec.js';

/**
 * The network rows' method: round trips timed by isola-bench rr (a static C client), the client
 * and the echo server on one CPU per run, runs alternating over the CPUs, enough round trips per
 * run that p99 is not one outlier.
 */

test('parseRtts: the round trips isola-bench rr printed, ns to us; anything else is null', () => {
  assert.deepEqual(parseRtts('rtt_ns=14000,15500,90250\n'), [14, 15.5, 90.25]);
  assert.equal(parseRtts(''), null);
  assert.equal(parseRtts('rtt_ns=\n'), null);
  assert.equal(parseRtts('rtt_ns=12,abc\n'), null);
  assert.equal(parseRtts('connect: Connection refused\n'), null);
});

test('cpuForRound: runs alternate over every CPU, warm-up rounds included, each CPU as often as the others', () => {
  const counted = Array.from({ length: 6 }, (_, r) => cpuForRound(r, 2));
  assert.deepEqual(counted, [0, 1, 0, 1, 0, 1]);
  assert.equal(cpuForRound(-1, 2), 1);
  assert.equal(cpuForRound(-2, 3), 1);
  const three = Array.from({ length: 9 }, (_, r) => cpuForRound(r, 3));
  for (const c of [0, 1, 2]) assert.equal(three.filter((x) => x === c).length, 3);
  assert.equal(cpuForRound(5, 1), 0);
  assert.equal(cpuForRound(5, 0), 0, 'no CPU count: CPU 0');
});

test('networkPlan: p99 rests on at least 10 round trips past it, and four times the runs of the other probes', () => {
  for (const quick of [true, false]) {
    const p = networkPlan(quick, quick ? 3 : 6);
    assert.ok(p.count * 0.01 >= 10, `count ${p.count}`);
    assert.ok(p.warm > 0);
    assert.equal(p.rounds, quick ? 12 : 24);
  }
});

test('isola-bench rr times one-byte round trips against a real echo server, pinned to a CPU; pin places a process; errors are one line', async () => {
  const assets = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-rr-'));
  const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
  const closer = net.createServer((s) => s.end());
  try {
    const helper = await probeBinary(assets);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => closer.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const r = await run(helper, ['rr', '127.0.0.1', String(port), '200', '5', '0']);
    assert.equal(r.code, 0, r.stderr);
    const rtts = parseRtts(r.stdout);
    assert.equal(rtts?.length, 200);
    assert.ok(rtts?.every((x) => x > 0 && x < 1_000_000), 'every round trip between 0 and 1 s');

    const closed = await run(helper, ['rr', '127.0.0.1', String((closer.address() as net.AddressInfo).port), '10', '0', '-1']);
    assert.notEqual(closed.code, 0);
    assert.match(closed.stderr, /the echo server closed the connection/);

    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const p = await run(helper, ['pin', '0', String(child.pid)]);
      assert.equal(p.code, 0, p.stderr);
      assert.match(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'), /^Cpus_allowed_list:\s+0$/m);
      // A process that ended since it was listed is skipped, the others still placed.
      const gone = spawn('true', [], { stdio: 'ignore' });
      await new Promise((r) => gone.on('close', r));
      const g = await run(helper, ['pin', '1', String(gone.pid), String(child.pid)]);
      if (os.availableParallelism() > 1) {
        assert.equal(g.code, 0, g.stderr);
        assert.match(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'), /^Cpus_allowed_list:\s+1$/m);
      }
      const bad = await run(helper, ['pin', '4096', String(child.pid)]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /^pin \d+ to cpu 4096: /);
    } finally {
      child.kill('SIGKILL');
    }
  } finally {
    server.close();
    closer.close();
    fs.rmSync(assets, { recursive: true, force: true });
  }
});
