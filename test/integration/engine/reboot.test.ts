import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Engine } from '../../../src/engine/engine.js';
import { defaultRunRequest } from '../../../src/engine/request.js';
import { currentBootId, processAlive, processRef } from '../../../src/util/process.js';
import { hostLeftovers, makeFixture } from '../../helpers/fixture.js';
import type { RestartPolicy } from '../../../src/core/types.js';

/**
 * After a reboot every pid isola recorded means something else. An instance recorded in another
 * boot is settled as exited 255, and the process that now has its monitor's pid is not touched.
 */
test('an instance of an earlier boot is settled as exited 255, and nothing is signalled', { timeout: 60_000 }, async () => {
  const fx = await makeFixture();
  const engine = new Engine(fx.config);
  // An unrelated process, standing in for whatever got the old monitor's pid after the reboot.
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const rec = await engine.create({ ...defaultRunRequest('base', ['true']), network: 'none', name: 'old-boot' });
    const ref = processRef(bystander.pid);
    assert.ok(ref);
    // As the database looks after a reboot: running, started in another boot, its monitor at a pid now taken.
    const data = { ...rec.data, conmonPid: ref.pid, conmonStartTime: ref.startTime, bootId: 'an-earlier-boot' };
    engine.instances.markRunning(rec.id, data, new Date().toISOString(), 'an-earlier-boot');
    await engine.reconcile();
    const after = engine.instances.get(rec.id);
    assert.equal(after?.state, 'exited');
    assert.equal(after?.exitCode, 255);
    assert.ok(processAlive(ref), 'the process that holds the old pid now was not signalled');
    await engine.remove('old-boot', true);
  } finally {
    bystander.kill('SIGKILL');
    engine.close();
    await fx.dispose();
  }
});

/**
 * `isola system boot` after a (simulated) reboot: the instances recorded as running in another
 * boot are settled as exited 255 without signalling anything, then those whose policy says so
 * start again, for real: always (even when stopped by the user), unless-stopped unless stopped by
 * the user, on-failure within its count. A second boot run does nothing.
 */
test('system boot brings back what the restart policies ask for after a reboot', { timeout: 120_000 }, async () => {
  const fx = await makeFixture();
  const engine = new Engine(fx.config);
  const bystander = spawn('sleep', ['120'], { stdio: 'ignore' });
  try {
    const ref = processRef(bystander.pid);
    assert.ok(ref);
    const make = async (name: string, restart: RestartPolicy | undefined, stoppedByUser = false) => {
      const rec = await engine.create({ ...defaultRunRequest('base', ['sleep', '600']), network: 'none', name, detach: true, ...(restart ? { restart } : {}) });
      const data = { ...rec.data, conmonPid: ref.pid, conmonStartTime: ref.startTime, bootId: 'an-earlier-boot' };
      engine.instances.markRunning(rec.id, data, new Date().toISOString(), 'an-earlier-boot');
      if (stoppedByUser) {
        engine.instances.markStoppedByUser(rec.id);
        engine.instances.markExited(rec.id, 137, false, new Date().toISOString(), 0);
      }
      return rec.id;
    };
    await make('always-running', { name: 'always', maxRetries: 0 });
    await make('always-stopped', { name: 'always', maxRetries: 0 }, true);
    await make('unless-running', { name: 'unless-stopped', maxRetries: 0 });
    await make('unless-stopped', { name: 'unless-stopped', maxRetries: 0 }, true);
    await make('failure-running', { name: 'on-failure', maxRetries: 1 });
    await make('no-policy', undefined);
    const restarted = await engine.boot();
    assert.deepEqual(restarted.map((r) => r.name).sort(), ['always-running', 'always-stopped', 'failure-running', 'unless-running']);
    for (const r of restarted) {
      const now = engine.instances.get(r.id);
      assert.equal(now?.state, 'running', `${r.name} runs again`);
      assert.equal(now?.bootId, currentBootId());
      assert.equal((await engine.driver(r.kind).observe(r.spec, now?.data ?? {})).state, 'running', `${r.name} really runs`);
    }
    assert.equal(engine.find('no-policy').state, 'exited');
    assert.equal(engine.find('no-policy').exitCode, 255);
    assert.equal(engine.find('unless-stopped').state, 'exited');
    assert.ok(processAlive(ref), 'the process that holds the old pids now was not signalled');
    assert.deepEqual(await engine.boot(), [], 'a second boot run in the same boot does nothing');
    const events = engine.events.list().filter((e) => e.action === 'restart').map((e) => e.attributes.name).sort();
    assert.deepEqual(events, ['always-running', 'always-stopped', 'failure-running', 'unless-running']);
  } finally {
    for (const r of engine.instances.list()) await engine.remove(r.id, true).catch(() => undefined);
    bystander.kill('SIGKILL');
    engine.close();
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  }
});
