import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKOFF_FIRST_MS, BACKOFF_MAX_MS, formatRestartPolicy, nextBackoff, parseRestartPolicy, shouldRestart } from '../../../src/engine/restart-policy.js';
import { isIsolaError } from '../../../src/core/errors.js';

test('restart policies parse as Docker spells them, and a bad one is refused with the fix', () => {
  assert.deepEqual(parseRestartPolicy('no'), { name: 'no', maxRetries: 0 });
  assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maxRetries: 0 });
  assert.deepEqual(parseRestartPolicy('unless-stopped'), { name: 'unless-stopped', maxRetries: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure'), { name: 'on-failure', maxRetries: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:5'), { name: 'on-failure', maxRetries: 5 });
  for (const bad of ['sometimes', 'on-failure:x', 'on-failure:-1', 'always:3', 'on-failure:1:2', '', 'ON-FAILURE']) {
    assert.throws(() => parseRestartPolicy(bad), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /restart/.test(e.oneLine()), bad);
  }
  assert.equal(formatRestartPolicy({ name: 'on-failure', maxRetries: 3 }), 'on-failure:3');
  assert.equal(formatRestartPolicy(undefined), 'no');
});

test('shouldRestart follows Docker: on-failure counts failures, a stop by the user is final until a reboot brings always back', () => {
  const f = (exitCode: number, restartCount = 0, stoppedByUser = false, afterReboot = false) => ({ exitCode, restartCount, stoppedByUser, afterReboot });
  const onFailure2 = { name: 'on-failure' as const, maxRetries: 2 };
  assert.equal(shouldRestart(undefined, f(1)), false);
  assert.equal(shouldRestart({ name: 'no', maxRetries: 0 }, f(1)), false);
  assert.equal(shouldRestart(onFailure2, f(0)), false, 'a clean exit is no failure');
  assert.equal(shouldRestart(onFailure2, f(3, 0)), true);
  assert.equal(shouldRestart(onFailure2, f(3, 1)), true);
  assert.equal(shouldRestart(onFailure2, f(3, 2)), false, 'two restarts done: no third');
  assert.equal(shouldRestart({ name: 'on-failure', maxRetries: 0 }, f(3, 1000)), true, 'no count means no limit');
  assert.equal(shouldRestart({ name: 'always', maxRetries: 0 }, f(0)), true);
  assert.equal(shouldRestart({ name: 'always', maxRetries: 0 }, f(137, 0, true)), false, 'stopped by the user');
  assert.equal(shouldRestart({ name: 'unless-stopped', maxRetries: 0 }, f(0, 0, true)), false);
  assert.equal(shouldRestart({ name: 'always', maxRetries: 0 }, f(137, 0, true, true)), true, 'always comes back after a reboot even when stopped');
  assert.equal(shouldRestart({ name: 'unless-stopped', maxRetries: 0 }, f(137, 0, true, true)), false, 'unless-stopped does not');
  assert.equal(shouldRestart({ name: 'unless-stopped', maxRetries: 0 }, f(255, 0, false, true)), true);
  assert.equal(shouldRestart(onFailure2, f(255, 0, false, true)), true, 'the reboot\'s 255 is a failure');
});

test('the back-off doubles from 100 ms to a minute and starts again after a run of 10 s', () => {
  const seq: number[] = [];
  let d = 0;
  for (let i = 0; i < 12; i++) seq.push((d = nextBackoff(d, 50)));
  assert.deepEqual(seq.slice(0, 5), [100, 200, 400, 800, 1600]);
  assert.equal(seq[seq.length - 1], BACKOFF_MAX_MS);
  assert.ok(seq.every((x) => x <= BACKOFF_MAX_MS));
  assert.equal(nextBackoff(BACKOFF_MAX_MS, 10_000), BACKOFF_FIRST_MS, 'a run of 10 s resets it');
  assert.equal(nextBackoff(800, 9_999), 1600);
});
