import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostLeftovers, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { dockerCli, startServe, type DockerCli, type Served } from '../../helpers/serve.js';

/** `docker container prune` and `docker network prune` (the 28.x CLI) against `isola serve`: what is stopped or unused goes, the rest stays. */
let fx: Fixture;
let served: Served;
let cli: DockerCli;
const ok = async (args: string[]) => (await cli.ok(args)).stdout;

before(async () => {
  fx = await makeFixture();
  served = await startServe(fx.root);
  cli = dockerCli(fx.root, served);
});

after(async () => {
  await served?.stop();
  await fx?.dispose();
});

test('container prune removes the exited and the never started, keeps the running and the labelled-out; network prune the unused user networks', async () => {
  await ok(['run', '--name', 'p-exited', 'base', 'sh', '-c', 'head -c 300000 /dev/zero > /big']);
  const exited = (await ok(['inspect', '-f', '{{.Id}}', 'p-exited'])).trim();
  const created = (await ok(['create', '--name', 'p-created', 'base', 'true'])).trim();
  await ok(['run', '--name', 'p-kept', '--label', 'keep=1', 'base', 'true']);
  await ok(['network', 'create', 'p-unused']);
  await ok(['network', 'create', 'p-used']);
  await ok(['run', '-d', '--name', 'p-running', '--network', 'p-used', 'base', 'sleep', '300']);
  const out = await ok(['container', 'prune', '-f', '--filter', 'label!=keep']);
  assert.match(out, /^Deleted Containers:\n/);
  assert.deepEqual(out.split('\n').filter((l) => /^[a-f0-9]{64}$/.test(l)).sort(), [exited, created].sort());
  const space = /Total reclaimed space: ([\d.]+)([kMG]?B)/.exec(out);
  assert.ok(space && (space[2] !== 'B' || Number(space[1]) > 0), `the 300 kB file was measured: ${out}`);
  assert.deepEqual((await ok(['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort(), ['p-kept', 'p-running']);

  const nets = await ok(['network', 'prune', '-f']);
  assert.equal(nets, 'Deleted Networks:\np-unused\n\n');
  await ok(['rm', '-f', 'p-running', 'p-kept']);
  await ok(['network', 'rm', 'p-used']);
  assert.deepEqual(hostLeftovers(fx), []);
});
