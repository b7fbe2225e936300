import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';

/**
 * Several exec sessions into one VM at once (agent-ports.ts): QEMU's socket behind an agent port
 * serves one client at a time, so with one port an exec started while another ran failed
 * ("connect EAGAIN") and a health check beside a long exec failed too. Through the real CLI,
 * for the vm and hybrid kinds.
 */
const T = { timeout: 240_000 };

describe('exec sessions at once into one VM (CLI, real QEMU)', () => {
  let fx: Fixture;
  const cli = (...args: string[]) => isola(fx.root, args, { timeoutMs: 120_000 });

  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    const left = await cli('ps', '-a', '-q');
    for (const id of left.stdout.split('\n').filter(Boolean)) await cli('rm', '-f', id);
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  for (const kind of ['vm', 'hybrid'] as const) {
    test(`${kind}: a short exec started during a long one ends first; both exit 0`, T, async () => {
      const name = `par-${kind}`;
      const run = await cli('run', '-d', '--as', kind, '--name', name, '--network', 'none', 'base', 'sleep', '600');
      assert.equal(run.code, 0, run.stderr);
      const started = Date.now();
      const ends: string[] = [];
      const long = cli('exec', name, 'sh', '-c', 'sleep 6; echo a').then((r) => {
        ends.push('a');
        return { ...r, ms: Date.now() - started };
      });
      await sleep(1000);
      const short = await cli('exec', name, 'echo', 'b').then((r) => {
        ends.push('b');
        return { ...r, ms: Date.now() - started };
      });
      const a = await long;
      assert.equal(short.code, 0, `b: ${short.stderr}`);
      assert.equal(short.stdout, 'b\n');
      assert.equal(a.code, 0, `a: ${a.stderr}`);
      assert.equal(a.stdout, 'a\n');
      assert.deepEqual(ends, ['b', 'a'], `b ended at ${short.ms} ms, a at ${a.ms} ms`);
      assert.equal((await cli('rm', '-f', name)).code, 0);
    });
  }

  for (const kind of ['vm', 'hybrid'] as const) test(`${kind}: health checks stay healthy while a long exec runs`, T, async () => {
    const name = `hc-${kind}`;
    const run = await cli('run', '-d', '--as', kind, '--name', name, '--network', 'none',
      '--health-cmd', 'true', '--health-interval', '1s', '--health-timeout', '3s', '--health-retries', '1', 'base', 'sleep', '600');
    assert.equal(run.code, 0, run.stderr);
    const health = async (): Promise<{ Status: string; Log: { Start: string; ExitCode: number; Output: string }[] }> =>
      (JSON.parse((await cli('inspect', name)).stdout) as { State: { Health: { Status: string; Log: { Start: string; ExitCode: number; Output: string }[] } } }[])[0]!.State.Health;
    for (let i = 0; (await health()).Status !== 'healthy'; i++) {
      assert.ok(i < 60, 'healthy within 60 s of start');
      await sleep(1000);
    }
    const from = new Date().toISOString();
    const long = await cli('exec', name, 'sh', '-c', 'sleep 8; echo done');
    assert.equal(long.code, 0, long.stderr);
    await sleep(1500);
    const h = await health();
    const during = h.Log.filter((l) => l.Start >= from);
    assert.ok(during.length >= 3, `probes ran while the exec did: ${JSON.stringify(h.Log)}`);
    assert.deepEqual(during.filter((l) => l.ExitCode !== 0), [], 'no probe failed');
    assert.equal(h.Status, 'healthy');
    assert.equal((await cli('rm', '-f', name)).code, 0);
  });
});
