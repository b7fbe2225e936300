import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { freePort, startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { readGuestAssets } from '../../../src/guest/assets.js';

/**
 * The example application (examples/hello-web), built by isola build, runs unchanged as a
 * container, a VM (TCG here) and a container inside a VM, serving its page through -p; and
 * other tools read the built image: skopeo from a registry it was pushed to, and from a
 * docker-archive it was saved to.
 */
const T = { timeout: 90_000 };

async function fetchPage(port: number, deadlineMs: number): Promise<string> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return await res.text();
    } catch {
      /* not serving yet */
    }
    if (Date.now() > until) throw new Error(`nothing served on 127.0.0.1:${port} within ${deadlineMs} ms`);
    await sleep(200);
  }
}

describe('a built image runs as every kind and other tools read it', () => {
  let fx: Fixture;
  let registry: TestRegistry | undefined;
  const cli = (args: string[]) => isola(fx.root, args, { timeoutMs: 80_000 });

  before(async () => {
    fx = await makeFixture();
    assert.ok(readGuestAssets(fx.config.assets), 'guest assets must be set up (npm run bootstrap)');
    const r = await cli(['build', '-t', 'hello-web:1', '--build-arg', 'GREETING=Built for every kind', path.join(REPO, 'examples', 'hello-web')]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  });
  after(async () => {
    const left = await cli(['ps', '-a', '-q']);
    for (const id of left.stdout.split('\n').filter(Boolean)) await cli(['rm', '-f', id]);
    await registry?.stop();
    await fx.dispose();
  });

  for (const kind of ['container', 'vm'] as const) {
    test(`isola run -d -p as a ${kind}: the page is served, the healthcheck's command passes inside`, T, async () => {
      const port = await freePort();
      const name = `web-${kind}`;
      const run = await cli(['run', '-d', '--name', name, '--as', kind, '-p', `${port}:8080`, 'hello-web:1']);
      assert.equal(run.code, 0, run.stderr);
      try {
        const page = await fetchPage(port, 60_000);
        assert.match(page, /<h1>Built for every kind<\/h1>/, 'the build argument reached the RUN that wrote the page');
        const health = await cli(['exec', name, 'sh', '-c', 'wget -q -O /dev/null http://127.0.0.1:8080/ && id -un']);
        assert.equal(health.stdout.trim(), 'web', 'USER web, and the HEALTHCHECK command succeeds');
      } finally {
        await cli(['rm', '-f', name]);
      }
    });
  }

  test('isola run --rm --as hybrid: runc inside the VM sees the same files, user and folder', T, async () => {
    const r = await cli(['run', '--rm', '--as', 'hybrid', 'hello-web:1', 'sh', '-c', 'id -un; pwd; grep -o "Built for every kind" index.html']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'web\n/www\nBuilt for every kind\n');
  });

  test('skopeo reads the built image from a registry it was pushed to, and from a docker-archive', T, async () => {
    registry = await startRegistry();
    const ref = `${registry.host}/hello-web:1`;
    assert.equal((await cli(['tag', 'hello-web:1', ref])).code, 0);
    const push = await cli(['push', '-q', ref]);
    assert.equal(push.code, 0, push.stderr);
    const inspect = await runCmd('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const info = JSON.parse(inspect.stdout) as { Digest: string; Labels: Record<string, string>; Layers: string[] };
    assert.equal(info.Digest, push.stdout.trim(), 'the registry has isola\'s manifest byte for byte');
    assert.equal(info.Labels['org.opencontainers.image.title'], 'hello-web');
    const config = await runCmd('skopeo', ['inspect', '--tls-verify=false', '--config', '--raw', `docker://${ref}`]);
    const cfg = JSON.parse(config.stdout) as { config: { Healthcheck?: { Test: string[] }; ExposedPorts?: object; User?: string } };
    assert.deepEqual(cfg.config.Healthcheck?.Test, ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1']);
    assert.deepEqual(cfg.config.ExposedPorts, { '8080/tcp': {} });
    const archive = path.join(fx.root, 'hello-web.tar');
    assert.equal((await cli(['save', '-o', archive, 'hello-web:1'])).code, 0);
    const fromArchive = await runCmd('skopeo', ['inspect', `docker-archive:${archive}`]);
    assert.equal(fromArchive.code, 0, fromArchive.stderr);
    assert.equal((JSON.parse(fromArchive.stdout) as { Layers: string[] }).Layers.length, info.Layers.length);
    fs.rmSync(archive, { force: true });
  });
});
