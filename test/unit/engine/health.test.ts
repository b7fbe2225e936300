import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyHealthResult, HEALTH_DEFAULTS, healthArgv, nextProbeDelay, resolveHealth, startingHealth } from '../../../src/engine/health.js';
import { isIsolaError } from '../../../src/core/errors.js';
import type { HealthSpec } from '../../../src/core/types.js';

test('the health check in force: the image\'s HEALTHCHECK, overlaid flag by flag, or none', () => {
  const image = { Test: ['CMD', 'true'], Interval: 10e9, Retries: 5 };
  assert.deepEqual(resolveHealth(image, {}), { test: ['CMD', 'true'], intervalMs: 10_000, timeoutMs: HEALTH_DEFAULTS.timeoutMs, startPeriodMs: 0, startIntervalMs: 5000, retries: 5 });
  const h = resolveHealth(image, { cmd: 'curl -f localhost', interval: '2s', retries: '2', startPeriod: '1m' });
  assert.deepEqual(h?.test, ['CMD-SHELL', 'curl -f localhost']);
  assert.equal(h?.intervalMs, 2000);
  assert.equal(h?.retries, 2);
  assert.equal(h?.startPeriodMs, 60_000);
  assert.equal(resolveHealth(image, { none: true }), undefined);
  assert.equal(resolveHealth({ Test: ['NONE'] }, {}), undefined);
  assert.equal(resolveHealth(undefined, { interval: '5s' }), undefined, 'options without a command: no check, as Docker');
  assert.equal(resolveHealth(undefined, {}), undefined);
  assert.deepEqual(healthArgv(resolveHealth(undefined, { cmd: 'exit 1' }) as HealthSpec), ['/bin/sh', '-c', 'exit 1']);
  assert.deepEqual(healthArgv(resolveHealth(image, {}) as HealthSpec), ['true']);
});

test('bad health flags are one-line errors', () => {
  for (const f of [{ interval: '5' }, { timeout: 'soon' }, { startPeriod: '-1s' }, { retries: 'x' }, { retries: '-2' }, { cmd: '' }, { none: true, cmd: 'true' }, { none: true, interval: '1s' }]) {
    assert.throws(() => resolveHealth(undefined, f), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), JSON.stringify(f));
  }
});

test('results move the state as Docker does: streaks, retries, the start period, five results kept', () => {
  const h: HealthSpec = { test: ['CMD', 'x'], intervalMs: 1000, timeoutMs: 1000, startPeriodMs: 5000, startIntervalMs: 100, retries: 2 };
  const started = '2024-01-01T00:00:00.000Z';
  const at = (s: number, exitCode: number) => ({ start: new Date(Date.parse(started) + s * 1000).toISOString(), end: '', exitCode, output: `o${s}` });
  let st = startingHealth();
  st = applyHealthResult(st, h, at(1, 1), started);
  assert.equal(st.status, 'starting');
  assert.equal(st.failingStreak, 0, 'a failure in the start period does not count');
  st = applyHealthResult(st, h, at(6, 1), started);
  assert.equal(st.failingStreak, 1);
  assert.equal(st.status, 'starting');
  st = applyHealthResult(st, h, at(7, 1), started);
  assert.equal(st.status, 'unhealthy', 'retries failures in a row');
  st = applyHealthResult(st, h, at(8, 0), started);
  assert.equal(st.status, 'healthy');
  assert.equal(st.failingStreak, 0);
  st = applyHealthResult(st, h, at(9, 1), started);
  assert.equal(st.status, 'healthy', 'one failure is not yet unhealthy');
  st = applyHealthResult(st, h, at(10, 0), started);
  assert.deepEqual(st.log.map((l) => l.output), ['o6', 'o7', 'o8', 'o9', 'o10'], 'the last five results');
  const big = applyHealthResult(st, h, { ...at(11, 0), output: 'x'.repeat(10_000) }, started);
  assert.equal(big.log.at(-1)?.output.length, 4096);
  assert.equal(nextProbeDelay(startingHealth(), h, started, Date.parse(started) + 1000), 100, 'the start interval while starting');
  assert.equal(nextProbeDelay(startingHealth(), h, started, Date.parse(started) + 6000), 1000);
  assert.equal(nextProbeDelay({ ...startingHealth(), status: 'healthy' }, h, started, Date.parse(started) + 1000), 1000);
});
