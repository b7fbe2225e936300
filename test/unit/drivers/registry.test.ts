import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entries, Drivers } from '../../../src/drivers/registry.js';
import { driverContext } from '../../../src/drivers/driver.js';
import { loadConfig } from '../../../src/core/config.js';
import { KINDS } from '../../../src/core/types.js';
import { isIsolaError } from '../../../src/core/errors.js';

test('every kind has a driver, loaded lazily, whose optional methods the registry declares truly', async () => {
  const config = loadConfig({ ISOLA_ROOT: '/nonexistent/isola-test' });
  const drivers = new Drivers(config);
  assert.deepEqual(drivers.all().map((d) => d.kind).sort(), [...KINDS].sort());
  for (const kind of KINDS) {
    const real = await entries[kind].load(driverContext(config));
    assert.equal(real.kind, kind);
    assert.equal(typeof real.runOnWorkloadKernel === 'function', entries[kind].runsOnWorkloadKernel, `${kind}: runsOnWorkloadKernel`);
    assert.equal(typeof drivers.get(kind).runOnWorkloadKernel === 'function', entries[kind].runsOnWorkloadKernel);
    assert.equal(typeof real.exportChanges === 'function', entries[kind].exportsChanges, `${kind}: exportsChanges`);
    assert.equal(typeof drivers.get(kind).exportChanges === 'function', entries[kind].exportsChanges);
    assert.equal(typeof real.exportFs === 'function', entries[kind].exportsChanges, `${kind}: exportFs`);
    assert.equal(typeof drivers.get(kind).exportFs === 'function', entries[kind].exportsChanges);
    assert.equal(typeof real.attachNetwork === 'function', entries[kind].hotplugsNetworks, `${kind}: hotplugsNetworks`);
    assert.equal(typeof real.detachNetwork === 'function', entries[kind].hotplugsNetworks, `${kind}: hotplugsNetworks`);
    assert.equal(typeof drivers.get(kind).attachNetwork === 'function', entries[kind].hotplugsNetworks);
    assert.equal(typeof real.refreshEtc === 'function', entries[kind].refreshesEtc, `${kind}: refreshesEtc`);
    assert.equal(typeof drivers.get(kind).refreshEtc === 'function', entries[kind].refreshesEtc);
    for (const m of ['snapshotCreate', 'snapshotRestore', 'snapshotRemove'] as const) {
      assert.equal(typeof real[m] === 'function', entries[kind].snapshots, `${kind}: snapshots (${m})`);
      assert.equal(typeof drivers.get(kind)[m] === 'function', entries[kind].snapshots);
    }
  }
});

test('a kind read back as an unknown string is refused with the fix', () => {
  const drivers = new Drivers(loadConfig({}));
  assert.throws(() => drivers.get('toaster' as never), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /use --as container, vm or hybrid/.test(e.oneLine()));
});

test('stored data a driver does not recognise is refused as corrupt, not guessed at', async () => {
  const vm = new Drivers(loadConfig({})).get('vm');
  const spec = { id: 'x'.repeat(64), name: 'n' } as never;
  await assert.rejects(vm.observe(spec, { something: 'else' }), (e) => isIsolaError(e, 'CORRUPT'));
});
