import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Engine } from '../../../src/engine/engine.js';
import { defaultRunRequest } from '../../../src/engine/request.js';
import { processAlive, processRef } from '../../../src/util/process.js';
import { makeFixture } from '../../helpers/fixture.js';

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
