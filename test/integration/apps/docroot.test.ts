import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { debianRootfs } from '../../helpers/debian-image.js';
import { freePort } from '../../helpers/registry.js';

/**
 * A real server with its document root on the host: Debian 12's python3 -m http.server, run as a
 * container, a VM and a hybrid with the same folder bind-mounted read-only at /srv/www and a
 * published port. Each serves the same page; a page the host changes while they run is served
 * changed by all three (the folder is shared, not copied); and none can write to it.
 */
async function get(port: number, file: string, withinMs: number): Promise<string> {
  const until = Date.now() + withinMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/${file}`, { signal: AbortSignal.timeout(3000) });
      if (res.ok) return await res.text();
    } catch {
      /* not serving yet */
    }
    if (Date.now() > until) throw new Error(`nothing served on 127.0.0.1:${port}/${file} within ${withinMs} ms`);
    await sleep(250);
  }
}

const KINDS = ['container', 'vm', 'hybrid'] as const;

describe('a web server with a bind-mounted document root, as container, VM and hybrid', { timeout: 900_000 }, () => {
  let fx: Fixture;
  let docroot: string;
  const ports = new Map<string, number>();
  const cli = (args: string[], timeoutMs = 300_000) => isola(fx.root, args, { timeoutMs });

  before(async () => {
    fx = await makeFixture();
    const imported = await cli(['import', await debianRootfs(['python3']), 'debian:bookworm', '--cmd', 'bash']);
    assert.equal(imported.code, 0, imported.stderr);
    docroot = path.join(fx.root, 'site');
    fs.mkdirSync(docroot);
    fs.writeFileSync(path.join(docroot, 'index.html'), '<h1>one document root, three kinds</h1>\n');
    fs.writeFileSync(path.join(docroot, 'live.txt'), 'before\n');
  });
  after(async () => {
    await cli(['rm', '-f', ...KINDS.map((k) => `web-${k}`)]);
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  for (const kind of KINDS) {
    test(`serves the host's document root as a ${kind}`, async () => {
      const port = await freePort();
      ports.set(kind, port);
      const r = await cli(['run', '-d', '--name', `web-${kind}`, '--as', kind, '-m', '256m', '-p', `127.0.0.1:${port}:8000`,
        '-v', `${docroot}:/srv/www:ro`, '-w', '/srv/www', 'debian:bookworm', 'python3', '-m', 'http.server', '8000']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await get(port, 'index.html', kind === 'container' ? 20_000 : 120_000), '<h1>one document root, three kinds</h1>\n');
      const w = await cli(['exec', `web-${kind}`, 'sh', '-c', 'echo x > /srv/www/index.html || echo refused']);
      assert.equal(w.stdout, 'refused\n');
      assert.match(w.stderr, /Read-only file system/);
    });
  }

  test('all three serve the same page, and a change on the host reaches each while it runs', async () => {
    const pages = await Promise.all(KINDS.map((k) => get(ports.get(k) ?? 0, 'index.html', 10_000)));
    assert.deepEqual(new Set(pages).size, 1);
    fs.writeFileSync(path.join(docroot, 'live.txt'), 'after\n');
    // virtiofs caches attributes for up to a second (cache=auto); the page changes after that.
    await sleep(1500);
    for (const k of KINDS) assert.equal(await get(ports.get(k) ?? 0, 'live.txt', 10_000), 'after\n', k);
    assert.equal(fs.readFileSync(path.join(docroot, 'index.html'), 'utf8'), '<h1>one document root, three kinds</h1>\n', 'no kind changed the page');
  });
});
