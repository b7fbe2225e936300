import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { BrowserSessions, checkBrowserRequest, fromBrowser, literalHost, SESSION_COOKIE } from '../../../src/api/browser.js';
import { ApiError } from '../../../src/api/errors.js';

function req(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage;
}

const refused = (status: number, re: RegExp) => (e: unknown) => e instanceof ApiError && e.status === status && re.test(e.message);

test('browser guard: API clients (no Origin, no Sec-Fetch-*) pass untouched', () => {
  const s = new BrowserSessions(null);
  assert.equal(fromBrowser(req('POST', { host: 'anything' })), false);
  checkBrowserRequest(req('POST', { host: 'docker' }), s, false);
});

test('browser guard: a state-changing request needs the same origin and the session\'s CSRF token', () => {
  const s = new BrowserSessions(Buffer.from('0123456789abcdef-token'));
  const { id, csrf } = s.create();
  const cookie = `other=1; ${SESSION_COOKIE}=${id}`;
  const base = { host: '127.0.0.1:2376', origin: 'http://127.0.0.1:2376', cookie };
  checkBrowserRequest(req('POST', { ...base, 'x-isola-csrf': csrf }), s, false);
  assert.throws(() => checkBrowserRequest(req('POST', base), s, false), refused(403, /CSRF/));
  assert.throws(() => checkBrowserRequest(req('POST', { ...base, 'x-isola-csrf': 'x'.repeat(64) }), s, false), refused(403, /CSRF/));
  assert.throws(() => checkBrowserRequest(req('DELETE', { ...base, origin: 'http://127.0.0.1:9999', 'x-isola-csrf': csrf }), s, false), refused(403, /cross-origin/));
  assert.throws(() => checkBrowserRequest(req('POST', { host: base.host, 'sec-fetch-site': 'same-origin', 'x-isola-csrf': csrf, cookie }), s, false), refused(403, /cross-origin/));
  assert.throws(() => checkBrowserRequest(req('POST', { ...base, origin: 'null' }), s, true), refused(403, /cross-origin/));
  // The login needs only the origin; reads need neither.
  checkBrowserRequest(req('POST', base), s, true);
  checkBrowserRequest(req('GET', { host: base.host, 'sec-fetch-site': 'cross-site' }), s, false);
  // A session that ended no longer counts.
  s.end(id);
  assert.throws(() => checkBrowserRequest(req('POST', { ...base, 'x-isola-csrf': csrf }), s, false), refused(403, /CSRF/));
});

test('browser guard: hosts a DNS name could rebind are refused, IP literals and localhost taken', () => {
  for (const h of ['127.0.0.1', '127.0.0.1:80', '[::1]:2376', 'localhost:8080', '10.0.0.5']) assert.ok(literalHost(h), h);
  for (const h of ['evil.example', 'evil.example:2376', 'localhost.evil.example', '']) assert.ok(!literalHost(h), h);
  const s = new BrowserSessions(null);
  assert.throws(() => checkBrowserRequest(req('GET', { host: 'evil.example:2376', 'sec-fetch-mode': 'cors' }), s, false), refused(403, /DNS rebinding/));
});

test('sessions: the token is compared whole; sessions expire', () => {
  let now = 0;
  const s = new BrowserSessions(Buffer.from('0123456789abcdef-token'), () => now);
  assert.ok(s.tokenMatches('0123456789abcdef-token'));
  assert.ok(!s.tokenMatches('0123456789abcdef-toke'));
  assert.ok(!new BrowserSessions(null).tokenMatches(''));
  const { id } = s.create();
  const r = req('GET', { cookie: `${SESSION_COOKIE}=${id}` });
  assert.ok(s.of(r));
  now += 13 * 3600_000;
  assert.equal(s.of(r), null);
  assert.equal(s.of(req('GET', { cookie: `${SESSION_COOKIE}=../../x` })), null);
});
