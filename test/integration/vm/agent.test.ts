import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { collectOutput } from '../../../src/util/collect.js';
import type { InstanceSpec } from '../../../src/core/types.js';
import { driverContext } from '../../../src/drivers/driver.js';
import { VmDriver, vmDiskUsage } from '../../../src/drivers/vm/driver.js';
import type { VmData } from '../../../src/drivers/vm/persist.js';
import { encodeFrame } from '../../../src/drivers/vm/agent.js';
import { ensureDirs, hostLeftovers, makeFixture, specFor, type Fixture } from '../../helpers/fixture.js';

/** The guest agent against real QEMU: stdin, a client that vanishes mid-request, stats, disks. */
describe('VM guest agent (real QEMU)', () => {
  let fx: Fixture;
  let spec: InstanceSpec;
  let vmDriver: VmDriver;
  let data: VmData;

  before(async () => {
    fx = await makeFixture();
    vmDriver = new VmDriver(driverContext(fx.config));
    spec = specFor(fx, 'vm', { argv: ['sleep', '600'], network: { mode: 'none' } });
    ensureDirs(spec);
    data = await vmDriver.create(spec);
    data = await vmDriver.start(spec, data);
  });
  after(async () => {
    await vmDriver.stop(spec, data, 0).catch(() => undefined);
    await vmDriver.cleanup(spec, data);
    await vmDriver.remove(spec, data);
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  const run = async (argv: string[], stdin: Readable | null = null): Promise<{ code: number; out: string; err: string }> => {
    const r = await collectOutput((io) => vmDriver.exec(spec, data, argv, { ...io, stdin }));
    return { code: r.code, out: r.stdout, err: r.stderr };
  };

  test('exec streams stdin to the command and its output back', { timeout: 30_000 }, async () => {
    const big = 'x'.repeat(200_000) + '\n';
    const r = await run(['wc', '-c'], Readable.from([Buffer.from('hello '), Buffer.from(big)]));
    assert.equal(r.code, 0);
    assert.equal(r.out.trim(), String(6 + big.length));
  });

  test('a client that disappears in the middle of a request does not wedge the agent', { timeout: 30_000 }, async () => {
    const v = data;
    for (const sock of [v.files.ctl, v.files.agent]) {
      await new Promise<void>((resolve) => {
        const s = net.connect(sock, () => {
          s.write(sock === v.files.ctl ? encodeFrame('S') : encodeFrame('E', 'ash\0a-c\0asleep 2; echo late\0'));
          s.destroy();
          resolve();
        });
        s.on('error', () => resolve());
      });
    }
    const st = await vmDriver.stats(spec, data);
    assert.ok(st.memoryBytes > 0);
    assert.equal((await run(['echo', 'still here'])).out, 'still here\n');
  });

  test('stats: guest memory and limit, processes, CPU, and the VMM overhead from the host', { timeout: 30_000 }, async () => {
    const st = await vmDriver.stats(spec, data);
    assert.ok(st.memoryLimitBytes !== null && st.memoryLimitBytes > 200 * 2 ** 20 && st.memoryLimitBytes <= 256 * 2 ** 20);
    assert.ok(st.pids !== null && st.pids >= 1);
    assert.ok(st.cpuNanos > 0);
    assert.equal(st.netRxBytes, null, 'no NIC with --network none');
    assert.ok(st.hostOverheadBytes !== null && st.hostOverheadBytes > 0);
  });

  test('signals reach the workload; its exit status is recorded by the guest', { timeout: 30_000 }, async () => {
    await vmDriver.kill(spec, data, 'USR1');
    const exit = await vmDriver.wait(spec, data);
    assert.equal(exit.exitCode, 128 + 10);
    const seen = await vmDriver.observe(spec, data);
    assert.equal(seen.state, 'exited');
  });

  test('disk usage: the shared base is counted once per image, the overlay per instance', () => {
    const u = vmDiskUsage(data);
    assert.ok(u.imageBytes > 1_000_000, `base disk holds the image: ${u.imageBytes}`);
    assert.ok(u.instanceBytes > 0 && u.instanceBytes < u.imageBytes, `overlay is small: ${u.instanceBytes}`);
    assert.ok(u.virtualBytes > u.imageBytes, 'the base is sparse');
  });
});
