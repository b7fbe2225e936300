import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from '../../../src/cli/detach-keys.js';
import { checkInputIsTty } from '../../../src/cli/terminal.js';
import { isIsolaError } from '../../../src/core/errors.js';

test('detach keys in Docker\'s spelling: ctrl- letters and symbols, single characters', () => {
  assert.deepEqual(parseDetachKeys(DEFAULT_DETACH_KEYS), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-a,d'), [1, 100]);
  assert.deepEqual(parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_'), [0, 27, 28, 29, 30, 31]);
  assert.deepEqual(parseDetachKeys('CTRL-Z'), [26]);
  for (const bad of ['', 'ctrl-1', 'ctrl-', 'ab', 'ctrl-p,,ctrl-q', 'alt-x']) {
    assert.throws(() => parseDetachKeys(bad), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), bad);
  }
});

test('the scanner detaches on the whole sequence, even split across reads, and passes nothing after it', () => {
  const s = new DetachScanner(parseDetachKeys(DEFAULT_DETACH_KEYS));
  assert.deepEqual(s.push(Buffer.from('ls\r')), { pass: Buffer.from('ls\r'), detach: false });
  assert.deepEqual(s.push(Buffer.from([0x61, 16])), { pass: Buffer.from('a'), detach: false }, 'a Ctrl-P is held back');
  assert.deepEqual(s.push(Buffer.from([17, 0x62])), { pass: Buffer.alloc(0), detach: true });
});

test('a broken sequence is input after all, and may start again', () => {
  const s = new DetachScanner(parseDetachKeys(DEFAULT_DETACH_KEYS));
  assert.deepEqual(s.push(Buffer.from([16, 0x78])), { pass: Buffer.from([16, 0x78]), detach: false }, 'Ctrl-P x reaches the workload');
  assert.deepEqual(s.push(Buffer.from([16, 16, 17])), { pass: Buffer.from([16]), detach: true }, 'Ctrl-P Ctrl-P Ctrl-Q: the first is input');
  const one = new DetachScanner([4]);
  assert.deepEqual(one.push(Buffer.from([0x71, 4])), { pass: Buffer.from('q'), detach: true });
});

test('-i with -t needs a terminal on stdin, in Docker\'s words; either alone does not', () => {
  assert.throws(() => checkInputIsTty({ interactive: true, tty: true }, false), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /the input device is not a TTY/.test(e.message));
  assert.doesNotThrow(() => checkInputIsTty({ interactive: true, tty: true }, true));
  assert.doesNotThrow(() => checkInputIsTty({ interactive: true, tty: false }, false));
  assert.doesNotThrow(() => checkInputIsTty({ interactive: false, tty: true }, false));
});
