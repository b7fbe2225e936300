import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpRequest } from '../../../src/image/registry/http.js';

/**
 * The registry client's HTTP layer on node:http. A response that was fully received but not read
 * keeps its socket until it is read to its end; dump() must read it, or the next request on an
 * agent at its socket limit waits for the idle timeout (a push to a registry with logins stalled
 * 60 s on its HEAD and 401 answers this way).
 */
async function server(): Promise<{ url: string; close: () => Promise<void> }> {
  const s = http.createServer((req, res) => {
    req.resume();
    res.writeHead(req.url === '/denied' ? 401 : 404, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="t"' });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, close: () => new Promise((r) => s.close(() => r())) };
}

for (const method of ['HEAD', 'GET']) {
  test(`dump() of a fully received ${method} answer gives its socket back: the next request on a one-socket agent is served at once`, async () => {
    const srv = await server();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await httpRequest(`${srv.url}/denied`, agent, { method, headers: {}, idleTimeoutMs: 30_000 });
      assert.equal(first.statusCode, 401);
      // Let the whole (short) body arrive, so the response is `complete` before dump() is called.
      await new Promise((r) => setTimeout(r, 50));
      await first.body.dump();
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const second = await Promise.race([
        httpRequest(`${srv.url}/other`, agent, { method, headers: {}, idleTimeoutMs: 30_000 }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('the second request waited for a socket: the first answer still holds it')), 5_000);
        }),
      ]).finally(() => clearTimeout(timer));
      await second.body.dump();
      assert.equal(second.statusCode, 404);
      assert.ok(Date.now() - t0 < 5_000);
    } finally {
      agent.destroy();
      await srv.close();
    }
  });
}

test('text() reads the whole body and dump() after it is a no-op', async () => {
  const srv = await server();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const res = await httpRequest(`${srv.url}/denied`, agent, { method: 'GET', headers: {}, idleTimeoutMs: 30_000 });
    assert.match(await res.body.text(), /authentication required/);
    await res.body.dump();
  } finally {
    agent.destroy();
    await srv.close();
  }
});
