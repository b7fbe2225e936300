import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBytes, parseCpus } from '../../src/core/units.js';
import { isIsolaError } from '../../src/core/errors.js';

test('parseBytes accepts Docker-style sizes', () => {
  assert.equal(parseBytes('64m'), 64 * 1024 * 1024);
  assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('512Mi'), 512 * 1024 * 1024);
  assert.equal(parseBytes('4096'), 4096);
});

test('parseBytes rejects a malformed size with a fix', () => {
  assert.throws(() => parseBytes('12q', '--memory'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /12q/.test(e.message) && !!e.hint);
  assert.throws(() => parseBytes('-5m'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => parseBytes('0'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
});

test('parseCpus rejects zero and junk', () => {
  assert.equal(parseCpus('0.5'), 0.5);
  assert.throws(() => parseCpus('0'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => parseCpus('abc'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
});
