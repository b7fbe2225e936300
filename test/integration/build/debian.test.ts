import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { debianRootfs } from '../../helpers/debian-image.js';
import { freePort } from '../../helpers/registry.js';

/**
 * A real distribution, not busybox: Debian 12 (debootstrap minbase with python3) imported, an
 * application built on it with a Dockerfile, and the same image served as a container and as a
 * VM through a published port.
 */
async function page(port: number, withinMs: number): Promise<string> {
  const until = Date.now() + withinMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return await res.text();
    } catch {
      /* not serving yet */
    }
    if (Date.now() > until) throw new Error(`nothing served on 127.0.0.1:${port} within ${withinMs} ms`);
    await sleep(250);
  }
}

describe('an application on Debian, built and run as container and VM', { timeout: 900_000 }, () => {
  let fx: Fixture;
  const cli = (args: string[], timeoutMs = 300_000) => isola(fx.root, args, { timeoutMs });

  before(async () => {
    fx = await makeFixture();
    const rootfs = await debianRootfs(['python3']);
    const imported = await cli(['import', rootfs, 'debian:bookworm', '--cmd', 'bash']);
    assert.equal(imported.code, 0, imported.stderr);
    const ctx = path.join(fx.root, 'app');
    fs.mkdirSync(path.join(ctx, 'site'), { recursive: true });
    fs.writeFileSync(path.join(ctx, 'site', 'index.html'), '<h1>served by python3 on Debian</h1>\n');
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), [
      'FROM debian:bookworm',
      'RUN useradd --system --home /srv app && python3 -c "import http.server"',
      'COPY site/ /srv/site/',
      'USER app',
      'WORKDIR /srv/site',
      'EXPOSE 8000',
      'CMD ["python3", "-m", "http.server", "8000"]',
      '',
    ].join('\n'));
    const built = await cli(['build', '-t', 'pyweb:1', ctx]);
    assert.equal(built.code, 0, built.stderr + built.stdout);
  });
  after(async () => {
    await cli(['rm', '-f', 'py-c', 'py-vm']);
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  test('the Debian image runs its own tools', async () => {
    const r = await cli(['run', '--rm', 'debian:bookworm', 'sh', '-c', '. /etc/os-release; echo $VERSION_CODENAME; python3 -c "print(6*7)"; dpkg -s python3 | grep ^Status']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['bookworm', '42', 'Status: install ok installed']);
  });

  for (const kind of ['container', 'vm'] as const) {
    test(`the application serves its page as a ${kind}`, async () => {
      const port = await freePort();
      const r = await cli(['run', '-d', '--name', kind === 'vm' ? 'py-vm' : 'py-c', '--as', kind, '-m', '256m', '-p', `127.0.0.1:${port}:8000`, 'pyweb:1']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(await page(port, kind === 'vm' ? 120_000 : 20_000), /served by python3 on Debian/);
      const who = await cli(['exec', kind === 'vm' ? 'py-vm' : 'py-c', 'id', '-un']);
      assert.equal(who.stdout.trim(), 'app', 'the USER of the Dockerfile');
    });
  }
});
