import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asideOf } from '../../../src/compose/recover.js';
import type { InstanceRecord } from '../../../src/state/instances.js';

const rec = (id: string, name: string) => ({ id, name }) as unknown as InstanceRecord;
const ID = 'abcdef0123456789'.repeat(4);

test('asideOf: a replica a rollout set aside is <its own id12>_<name>; anything else is not', () => {
  assert.equal(asideOf(rec(ID, `${ID.slice(0, 12)}_p-web-1`)), 'p-web-1');
  assert.equal(asideOf(rec(ID, 'p-web-1')), undefined);
  // Another instance's id prefix is a user's name, not a rollout's record.
  assert.equal(asideOf(rec(ID, '0123456789ab_p-web-1')), undefined);
  assert.equal(asideOf(rec(ID, `${ID.slice(0, 11)}_p-web-1`)), undefined);
});
