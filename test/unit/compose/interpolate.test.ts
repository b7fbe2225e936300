import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate, InterpolationError, parseEnvText } from '../../../src/compose/interpolate.js';

const vars = new Map([['A', 'one'], ['EMPTY', ''], ['B', 'two']]);

test('interpolation: Compose\'s forms', () => {
  assert.equal(interpolate('$A ${A} x${B}y', vars), 'one one xtwoy');
  assert.equal(interpolate('${MISSING}', vars), '');
  assert.equal(interpolate('${MISSING:-def} ${EMPTY:-def} ${EMPTY-def} ${A:-def}', vars), 'def def  one');
  assert.equal(interpolate('${A:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${MISSING+alt}', vars), 'alt  alt ');
  assert.equal(interpolate('${MISSING:-${A}-x}', vars), 'one-x', 'defaults nest');
  assert.equal(interpolate('$$A costs 5$ and $$$A', vars), '$A costs 5$ and $one');
});

test('interpolation: required variables and malformed references are errors', () => {
  assert.throws(() => interpolate('${MISSING?set it}', vars), (e: Error) => e instanceof InterpolationError && /MISSING: set it/.test(e.message));
  assert.throws(() => interpolate('${EMPTY:?}', vars), /required variable EMPTY/);
  assert.equal(interpolate('${EMPTY?x}', vars), '', 'set but empty passes ?');
  assert.throws(() => interpolate('${A', vars), /unclosed/);
  assert.throws(() => interpolate('${1A}', vars), /invalid variable reference/);
  assert.throws(() => interpolate('${A#x}', vars), /invalid variable reference/);
});

test('env files: comments, export, quotes, bad lines', () => {
  const m = parseEnvText('# c\n\nexport A=1\nB = "x\\ny"\nC=\'$lit\'\nD=v # note\nE\n');
  assert.deepEqual([...m], [['A', '1'], ['B', 'x\ny'], ['C', '$lit'], ['D', 'v']]);
  assert.throws(() => parseEnvText('A=1\n=2\n'), /line 2/);
});
