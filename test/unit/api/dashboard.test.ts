import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { startInProcessApi, type InProcessApi } from '../../helpers/api-server.js';

/** The dashboard's files and sessions on a TCP listener with a bearer token (no instance is started). */
const TOKEN = 'unit-dashboard-token-0123456789';
let api: InProcessApi;
let port: number;

before(async () => {
  api = await startInProcessApi((root) => {
    const tokenFile = path.join(root, 'token');
    fs.writeFileSync(tokenFile, TOKEN);
    return { socket: null, tcp: '127.0.0.1:0', tokenFile };
  });
  port = Number(/:(\d+)$/.exec(api.server.addresses[0] ?? '')?.[1]);
});
after(async () => {
  await api?.dispose();
});

function call(method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: { ...(body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the page is served without a token, with a policy that forbids loading anything from elsewhere', async () => {
  const page = await call('GET', '/dashboard/');
  assert.equal(page.status, 200);
  assert.match(page.text, /<script type="module" src="\/dashboard\/app\.js">/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal((await call('GET', '/dashboard/app.js')).status, 200);
  assert.equal((await call('GET', '/dashboard/other.js')).status, 401, 'other paths need the token');
  assert.doesNotMatch((await call('GET', '/dashboard/app.js')).text, /https?:\/\/(?!127)/, 'no address elsewhere in the script');
});

test('a session for the token: the API with the cookie, and changes only with the CSRF token', async () => {
  assert.equal((await call('GET', '/containers/json')).status, 401);
  assert.deepEqual(JSON.parse((await call('GET', '/dashboard/session')).text).csrf, null);
  const o = { Origin: `http://127.0.0.1:${port}`, Host: `127.0.0.1:${port}` };
  assert.equal((await call('POST', '/dashboard/login', o, JSON.stringify({ token: 'wrong-token-0123456789' }))).status, 401);
  assert.equal((await call('POST', '/dashboard/login', { ...o, Origin: 'http://127.0.0.1:1' }, JSON.stringify({ token: TOKEN }))).status, 403);
  const ok = await call('POST', '/dashboard/login', o, JSON.stringify({ token: TOKEN }));
  assert.equal(ok.status, 200, ok.text);
  const setCookie = String(ok.headers['set-cookie']);
  assert.match(setCookie, /HttpOnly; SameSite=Strict/);
  const cookie = setCookie.split(';')[0] ?? '';
  const { csrf } = JSON.parse(ok.text) as { csrf: string };
  assert.equal((await call('GET', '/containers/json', { Cookie: cookie })).status, 200);
  assert.equal(JSON.parse((await call('GET', '/dashboard/session', { Cookie: cookie })).text).csrf, csrf);
  const stop = (h: Record<string, string>) => call('POST', '/containers/nosuch/stop', { Cookie: cookie, ...h });
  assert.equal((await stop(o)).status, 403, 'no CSRF token');
  assert.equal((await stop({ ...o, 'X-Isola-CSRF': csrf })).status, 404, 'past the guard: no such container');
  const hist = await call('GET', '/images/base/history', { Cookie: cookie });
  assert.equal(hist.status, 200);
  assert.match(JSON.parse(hist.text)[0].Id as string, /^sha256:/);
  assert.equal((await call('POST', '/dashboard/logout', { Cookie: cookie, ...o, 'X-Isola-CSRF': csrf })).status, 200);
  assert.equal((await call('GET', '/containers/json', { Cookie: cookie })).status, 401, 'the session ended');
});
