import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from '../../../src/image/commit.js';
import { instanceConfig } from '../../../src/engine/commit.js';
import type { InstanceSpec } from '../../../src/core/types.js';

test('commit -c: each change means what its Dockerfile instruction means', async () => {
  const base = { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], WorkingDir: '/' };
  const out = await applyChanges(base, [
    'ENV A=2 B="two words"',
    'CMD ["cat", "/hello"]',
    'EXPOSE 80 53/udp',
    'LABEL com.example=yes',
    'WORKDIR app',
    'USER 1000:1000',
    'ENTRYPOINT /bin/start',
  ]);
  assert.deepEqual(out.Env, ['PATH=/bin', 'A=2', 'B=two words']);
  assert.deepEqual(out.Cmd, ['cat', '/hello'], 'CMD set by a change is kept by a later ENTRYPOINT');
  assert.deepEqual(out.Entrypoint, ['/bin/sh', '-c', '/bin/start']);
  assert.deepEqual(Object.keys(out.ExposedPorts ?? {}), ['80/tcp', '53/udp']);
  assert.deepEqual(out.Labels, { 'com.example': 'yes' });
  assert.equal(out.WorkingDir, '/app');
  assert.equal(out.User, '1000:1000');
  assert.deepEqual(base.Env, ['PATH=/bin', 'A=1'], 'the input is not changed');
});

test('commit -c: a build step, an unknown instruction or two at once is refused naming it', async () => {
  await assert.rejects(applyChanges({}, ['RUN touch /x']), /RUN cannot be applied by commit/);
  await assert.rejects(applyChanges({}, ['COPY a b']), /COPY cannot be applied by commit/);
  await assert.rejects(applyChanges({}, ['FROBNICATE x']), /unknown instruction/);
  await assert.rejects(applyChanges({}, ['ENV A=1\nENV B=2']), /is not one instruction/);
  await assert.rejects(applyChanges({}, ['EXPOSE 99999']), /invalid port "99999"/);
});

test('commit keeps what the instance ran with, as Docker merges the container\'s config', () => {
  const spec = {
    image: { config: { entrypoint: ['/entry'], cmd: ['serve'], env: [], workingDir: '/', user: '' } },
    argv: ['/entry', 'serve', '--fast'], env: ['PATH=/bin', 'X=1'], workdir: '/srv', user: '', labels: { a: 'b' },
  } as unknown as InstanceSpec;
  assert.deepEqual(instanceConfig(spec), { Env: ['PATH=/bin', 'X=1'], WorkingDir: '/srv', Labels: { a: 'b' }, Entrypoint: ['/entry'], Cmd: ['serve', '--fast'] });
  const overridden = { ...spec, argv: ['sh', '-c', 'true'] } as InstanceSpec;
  assert.deepEqual(instanceConfig(overridden).Entrypoint, null, 'an --entrypoint override leaves the image\'s out');
  assert.deepEqual(instanceConfig(overridden).Cmd, ['sh', '-c', 'true']);
});
