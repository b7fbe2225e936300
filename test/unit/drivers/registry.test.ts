import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entries, allDrivers, driverFor } from '../../../src/drivers/registry.js';
import { KINDS } from '../../../src/drivers/driver.js';

test('every kind has a driver, loaded lazily, whose optional methods the registry declares truly', async () => {
  assert.deepEqual(allDrivers().map((d) => d.kind).sort(), [...KINDS].sort());
  for (const kind of KINDS) {
    const real = await entries[kind].load();
    assert.equal(real.kind, kind);
    assert.equal(typeof real.runOnWorkloadKernel === 'function', entries[kind].runsOnWorkloadKernel, `${kind}: runsOnWorkloadKernel`);
    assert.equal(typeof driverFor(kind).runOnWorkloadKernel === 'function', entries[kind].runsOnWorkloadKernel);
  }
});
