import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { must, startPodman, type Podman } from '../../helpers/peers.js';

/**
 * isola and the containers/image tools (skopeo, podman, umoci) reading each other's output:
 * registry both ways, archives both ways, and isola's store as an OCI layout. Every round trip
 * ends with the image running, in podman or in isola.
 */
let reg: TestRegistry;
let secure: TestRegistry;
let fx: Fixture;
let podman: Podman;
const USER = { user: 'interop', password: 'pw-interop' };

before(async () => {
  [reg, secure, fx, podman] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth: USER }), makeFixture(), startPodman()]);
});
after(async () => {
  await Promise.all([reg?.stop(), secure?.stop(), fx?.dispose(), podman?.dispose()]);
});

const env = () => ({ env: { DOCKER_CONFIG: path.join(fx.root, 'docker-config') } });
async function ok(args: string[]) {
  const r = await isola(fx.root, args, env());
  assert.equal(r.code, 0, `isola ${args.join(' ')}: ${r.stderr}`);
  return r;
}
const podmanOk = (args: string[]) => must(podman.run(args), `podman ${args.join(' ')}`);
const skopeo = (args: string[]) => must(runCmd('skopeo', args, { timeoutMs: 120_000 }), `skopeo ${args.join(' ')}`);

test('isola push, then podman pull and run; skopeo copies it too', async () => {
  const ref = `${reg.host}/interop/base:1`;
  await ok(['tag', 'base', ref]);
  await ok(['push', ref]);
  await podmanOk(['pull', '--tls-verify=false', ref]);
  const run = await podmanOk(['run', '--rm', '--pull=never', '--network', 'none', ref, 'echo', 'ok']);
  assert.equal(run.stdout, 'ok\n');
  const inspect = JSON.parse((await skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])).stdout);
  assert.equal(inspect.Architecture, 'amd64');
  assert.equal(inspect.Layers.length, 1);
});

test('podman push and skopeo copy, then isola pull and run', async () => {
  const fromPodman = `${reg.host}/interop/from-podman:1`;
  await podmanOk(['tag', `${reg.host}/interop/base:1`, fromPodman]);
  await podmanOk(['push', '--tls-verify=false', fromPodman]);
  await ok(['pull', fromPodman]);
  assert.equal((await ok(['run', '--rm', fromPodman, 'echo', 'ok'])).stdout, 'ok\n');
  // skopeo from isola's own store (an OCI layout) to the registry, with a Docker schema 2 manifest.
  const fromSkopeo = `${reg.host}/interop/from-skopeo:2`;
  await skopeo(['copy', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${fx.paths.images}:base:latest`, `docker://${fromSkopeo}`]);
  const pulled = await ok(['pull', fromSkopeo]);
  assert.match(pulled.stderr, /Digest: sha256:/);
  const desc = JSON.parse(fs.readFileSync(path.join(fx.paths.images, 'index.json'), 'utf8')).manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === fromSkopeo);
  assert.equal(desc.mediaType, 'application/vnd.docker.distribution.manifest.v2+json', 'the index keeps the real media type');
  assert.equal((await ok(['run', '--rm', fromSkopeo, 'echo', 'ok'])).stdout, 'ok\n');
});

test('isola\'s store is an OCI layout skopeo and umoci read', async () => {
  const inspect = JSON.parse((await skopeo(['inspect', `oci:${fx.paths.images}:base:latest`])).stdout);
  assert.equal(inspect.Os, 'linux');
  const raw = JSON.parse((await skopeo(['inspect', '--raw', `oci:${fx.paths.images}:${reg.host}/interop/from-podman:1`])).stdout);
  assert.ok(Array.isArray(raw.layers));
  // umoci lists every name, Docker schema 2 manifests included; skopeo's oci: transport (1.9)
  // only looks at entries typed as OCI manifests or indexes, so a pulled Docker schema 2 image is
  // invisible to it there (docs/REGISTRY.md says so).
  const ls = await must(runCmd('umoci', ['ls', '--layout', fx.paths.images]), 'umoci ls');
  for (const name of ['base:latest', `${reg.host}/interop/from-podman:1`, `${reg.host}/interop/from-skopeo:2`]) assert.ok(ls.stdout.split('\n').includes(name), `${name} in ${ls.stdout}`);
});

test('podman save, then isola load and run; isola save, then podman load and run', async () => {
  const archive = path.join(podman.dir, 'from-podman.tar');
  await podmanOk(['save', '--format', 'docker-archive', '-o', archive, `${reg.host}/interop/base:1`]);
  const loaded = await ok(['load', '-i', archive]);
  assert.match(loaded.stdout, /Loaded image: 127\.0\.0\.1:\d+\/interop\/base:1/);
  await ok(['run', '--rm', `${reg.host}/interop/base:1`, 'true']);
  const mine = path.join(fx.root, 'mine.tar');
  await ok(['tag', 'base', 'isola-saved:1']);
  await ok(['save', '-o', mine, 'isola-saved:1']);
  const pl = await podmanOk(['load', '-i', mine]);
  assert.match(pl.stdout, /isola-saved:1/);
  assert.equal((await podmanOk(['run', '--rm', '--pull=never', '--network', 'none', 'localhost/isola-saved:1', 'echo', 'ok'])).stdout, 'ok\n');
  const oci = path.join(fx.root, 'mine-oci.tar');
  await ok(['save', '--format', 'oci-archive', '-o', oci, 'isola-saved:1']);
  const viaSkopeo = JSON.parse((await skopeo(['inspect', `oci-archive:${oci}:isola-saved:1`])).stdout);
  assert.equal(viaSkopeo.Layers.length, 1);
});

test('TLS with htpasswd: skopeo pushes with a cert dir and creds, isola logs in with --tls-ca and pulls', async () => {
  const ref = `${secure.host}/interop/secure:1`;
  await skopeo(['copy', '--dest-cert-dir', secure.certDir!, '--dest-creds', `${USER.user}:${USER.password}`, `oci:${fx.paths.images}:base:latest`, `docker://${ref}`]);
  const denied = await isola(fx.root, ['pull', '--tls-ca', secure.caFile!, ref], env());
  assert.equal(denied.code, 125);
  assert.match(denied.stderr, /401/);
  const login = await runCmd(process.execPath, ['bin/isola.js', 'login', '--tls-ca', secure.caFile!, '-u', USER.user, '--password-stdin', secure.host], { env: { ...process.env, ISOLA_ROOT: fx.root, DOCKER_CONFIG: path.join(fx.root, 'docker-config') }, input: USER.password });
  assert.equal(login.code, 0, login.stderr);
  await ok(['pull', '--tls-ca', secure.caFile!, ref]);
  assert.equal((await ok(['run', '--rm', ref, 'echo', 'ok'])).stdout, 'ok\n');
});
