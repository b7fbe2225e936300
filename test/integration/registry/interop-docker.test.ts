import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { must, startDockerd, type Dockerd } from '../../helpers/peers.js';

/**
 * isola and Docker (Debian's docker.io, a private dockerd for this file) reading each other's
 * archives and registry pushes. Every round trip ends with the image running.
 */
let fx: Fixture;
let dockerd: Dockerd;
let reg: TestRegistry;

before(async () => {
  [fx, dockerd, reg] = await Promise.all([makeFixture(), startDockerd(), startRegistry()]);
});
after(async () => {
  await Promise.all([fx?.dispose(), dockerd?.stop(), reg?.stop()]);
});

async function ok(args: string[]) {
  const r = await isola(fx.root, args, { env: { DOCKER_CONFIG: path.join(fx.root, 'docker-config') } });
  assert.equal(r.code, 0, `isola ${args.join(' ')}: ${r.stderr}`);
  return r;
}
const docker = (args: string[]) => must(dockerd.docker(args), `docker ${args.join(' ')}`);

test('isola save, then docker load and run (two names of one image in one archive)', async () => {
  await ok(['tag', 'base', 'isola-to-docker:1']);
  await ok(['tag', 'base', 'isola-to-docker:2']);
  const archive = path.join(fx.root, 'to-docker.tar');
  await ok(['save', '-o', archive, 'isola-to-docker:1', 'isola-to-docker:2']);
  const loaded = await docker(['load', '-i', archive]);
  assert.match(loaded.stdout, /Loaded image: isola-to-docker:1/);
  assert.match(loaded.stdout, /Loaded image: isola-to-docker:2/);
  assert.equal((await docker(['run', '--rm', '--network', 'none', 'isola-to-docker:2', 'echo', 'ok'])).stdout, 'ok\n');
});

test('docker save, then isola load and run', async () => {
  await docker(['tag', 'isola-to-docker:1', 'docker-made:7']);
  const archive = path.join(dockerd.dir, 'from-docker.tar');
  await docker(['save', '-o', archive, 'docker-made:7']);
  const loaded = await ok(['load', '-i', archive]);
  assert.equal(loaded.stdout, 'Loaded image: docker-made:7\n');
  assert.equal((await ok(['run', '--rm', 'docker-made:7', 'echo', 'ok'])).stdout, 'ok\n');
});

test('isola push, then docker pull and run; docker push, then isola pull and run', async () => {
  const ref = `${reg.host}/with-docker/base:1`;
  await ok(['tag', 'base', ref]);
  await ok(['push', ref]);
  await docker(['pull', ref]);
  assert.equal((await docker(['run', '--rm', '--network', 'none', ref, 'echo', 'ok'])).stdout, 'ok\n');
  const back = `${reg.host}/with-docker/from-docker:1`;
  await docker(['tag', 'docker-made:7', back]);
  await docker(['push', back]);
  await ok(['pull', back]);
  assert.equal((await ok(['run', '--rm', back, 'echo', 'ok'])).stdout, 'ok\n');
});
