import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createTap, deleteTaps, tapName } from '../../../src/net/tap.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { runOk } from '../../../src/util/exec.js';

/**
 * A VM's tap: made, owned, enslaved to the bridge with hairpin on and up, in one ip process;
 * a step that fails leaves no tap and says which step in one line.
 */
test('a tap is made owned by the VMM, on the bridge with hairpin on, up; deleteTaps removes it', async () => {
  const id = randomBytes(32).toString('hex');
  const bridge = `isolatb${randomBytes(3).toString('hex')}`;
  await runOk('ip', ['link', 'add', bridge, 'type', 'bridge']);
  try {
    const name = await createTap(id, bridge, 2_100_000_123);
    assert.equal(name, tapName(id));
    const sys = `/sys/class/net/${name}`;
    assert.equal(fs.readFileSync(`${sys}/owner`, 'utf8').trim(), '2100000123');
    assert.equal(fs.readFileSync(`${sys}/group`, 'utf8').trim(), '2100000123');
    assert.equal(fs.realpathSync(`${sys}/master`), fs.realpathSync(`/sys/class/net/${bridge}`));
    assert.equal(fs.readFileSync(`${sys}/brport/hairpin_mode`, 'utf8').trim(), '1');
    assert.equal(Number(fs.readFileSync(`${sys}/flags`, 'utf8').trim()) & 1, 1, 'IFF_UP');
    // Again on the same instance: the tap is there already, attached again without an error.
    assert.equal(await createTap(id, bridge, 2_100_000_123), name);
    await deleteTaps(id);
    assert.equal(fs.existsSync(sys), false);
  } finally {
    await deleteTaps(id);
    await runOk('ip', ['link', 'del', bridge]);
  }
});

test('a bridge that does not exist: UNAVAILABLE in one line naming it, and no tap left', async () => {
  const id = randomBytes(32).toString('hex');
  await assert.rejects(createTap(id, 'isolanobridge0', 2_100_000_123), (e) => {
    assert.ok(isIsolaError(e, 'UNAVAILABLE'));
    assert.match(e.message, /^cannot attach tap device isolat[0-9a-f]+ to isolanobridge0: .*isolanobridge0.*$/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  assert.equal(fs.existsSync(`/sys/class/net/${tapName(id)}`), false);
});
