import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSpec, mergeEnv, resolveArgv } from '../../../src/engine/spec-builder.js';
import { defaultRunRequest, type RunRequest } from '../../../src/engine/request.js';
import { pathsFor } from '../../../src/core/paths.js';
import { isIsolaError } from '../../../src/core/errors.js';
import type { ResolvedImage } from '../../../src/core/types.js';

const img = (entrypoint: string[], cmd: string[]): ResolvedImage => ({ ref: 'x:1', digest: 'sha256:0', layers: [], layerDigests: [], config: { env: ['PATH=/bin', 'A=1'], entrypoint, cmd, workingDir: '/', user: '' } });

test('argv follows Docker: ENTRYPOINT + (command or CMD)', () => {
  assert.deepEqual(resolveArgv(img([], ['sh']), defaultRunRequest('x')), ['sh']);
  assert.deepEqual(resolveArgv(img(['/init'], ['--a']), defaultRunRequest('x')), ['/init', '--a']);
  assert.deepEqual(resolveArgv(img(['/init'], ['--a']), defaultRunRequest('x', ['--b'])), ['/init', '--b']);
  assert.deepEqual(resolveArgv(img(['/init'], ['--a']), { ...defaultRunRequest('x', ['echo']), entrypoint: '' }), ['echo']);
  assert.throws(() => resolveArgv(img([], []), defaultRunRequest('x')), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
});

test('env: -e overrides the image, KEY alone passes the caller\'s value', () => {
  const caller = { ISOLA_TEST_PASS: 'through' };
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3', 'ISOLA_TEST_PASS', 'UNSET_ONE'], caller), ['PATH=/bin', 'A=2', 'B=3', 'ISOLA_TEST_PASS=through']);
  assert.throws(() => mergeEnv([], ['1BAD=x'], caller), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
});

test('terminals: -t is tty, -i keeps stdin open, once only in the foreground (Docker\'s StdinOnce)', () => {
  const paths = pathsFor('/tmp/isola-spec-test');
  const build = (over: Partial<RunRequest>) => buildSpec(paths, {}, 'a'.repeat(64), 'n', img([], ['sh']), { ...defaultRunRequest('x'), network: 'none', ...over }, null, () => [], []);
  const plain = build({});
  assert.equal(plain.tty, undefined);
  assert.equal(plain.stdinOpen, undefined);
  assert.deepEqual([build({ tty: true }).tty, build({ tty: true }).stdinOpen], [true, undefined]);
  const fg = build({ interactive: true });
  assert.deepEqual([fg.stdinOpen, fg.stdinOnce], [true, true]);
  const bg = build({ interactive: true, tty: true, detach: true });
  assert.deepEqual([bg.tty, bg.stdinOpen, bg.stdinOnce], [true, true, false]);
});

test('run --rm makes the spec disposable (drivers may skip durability work); a kept instance is not', () => {
  const paths = pathsFor('/tmp/isola-spec-test');
  const build = (over: Partial<RunRequest>) => buildSpec(paths, {}, 'a'.repeat(64), 'n', img([], ['sh']), { ...defaultRunRequest('x'), network: 'none', ...over }, null, () => [], []);
  assert.equal(build({ autoRemove: true }).disposable, true);
  assert.equal(build({}).disposable, undefined);
});
