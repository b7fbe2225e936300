import fs from 'node:fs/promises';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Router, Call } from './router.js';
import { SEGMENT } from './router.js';
import { ApiError, badRequest } from './errors.js';
import { readJson, sendJson } from './http.js';
import { clearedCookie, sessionCookie } from './browser.js';
import { findInstance } from './containers.js';
import { measureSecurity } from '../security/gather.js';
import { renderProfile } from '../security/render.js';

/**
 * The dashboard (docs/API.md#the-dashboard): static files from web/ (no CDN, nothing fetched
 * from elsewhere), and the session calls. The page drives the same Docker Engine API as the
 * docker CLI, with its session cookie and CSRF token (browser.ts).
 */

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');
const FILES: Record<string, { file: string; type: string }> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** Served without a token: the page itself holds no data, and the session call answers 401 itself. */
export function publicPath(p: string): boolean {
  return /^\/dashboard(\/(app\.js|app\.css|session|login)?)?$/.test(p);
}

/** The page may load and call nothing but this server. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

async function file(c: Call): Promise<void> {
  const f = FILES[c.params[0] ?? ''];
  if (!f) throw new ApiError(404, `page not found: ${c.req.url ?? ''}`);
  const body = await fs.readFile(path.join(WEB, f.file));
  c.res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': body.length, ...SECURITY_HEADERS });
  c.res.end(c.req.method === 'HEAD' ? undefined : body);
}

function secure(c: Call): boolean {
  return Boolean((c.req.socket as TLSSocket).encrypted);
}

function startSession(c: Call): void {
  const s = c.api.browser.create();
  c.res.setHeader('Set-Cookie', sessionCookie(s.id, secure(c)));
  sendJson(c.res, 200, { csrf: s.csrf });
}

/**
 * GET /dashboard/session: the CSRF token of the cookie's session; a listener that authenticates
 * by itself (unix socket, mutual TLS) opens one; else `{"csrf": null}`, and the page asks for the
 * token (200, not 401: the browser would log a failed load as an error).
 */
function session(c: Call): void {
  const s = c.api.browser.of(c.req);
  if (s) return sendJson(c.res, 200, { csrf: s.csrf });
  if (!c.trusted) return sendJson(c.res, 200, { csrf: null, login: 'the content of the server\'s --token-file' });
  startSession(c);
}

/** POST /dashboard/login {"token"}: a session for the bearer token. */
async function login(c: Call): Promise<void> {
  const body = await readJson(c.req);
  if (typeof body.token !== 'string' || body.token.length > 4096) throw badRequest('give {"token": "..."}: the content of the server\'s --token-file');
  if (!c.trusted && !c.api.browser.tokenMatches(body.token.trim())) throw new ApiError(401, 'wrong token');
  startSession(c);
}

function logout(c: Call): void {
  const s = c.api.browser.of(c.req);
  if (s) c.api.browser.end(s.id);
  c.res.setHeader('Set-Cookie', clearedCookie());
  sendJson(c.res, 200, {});
}

/** GET /dashboard/security/{id}: the measured security profile of a running instance (isola inspect --security), as JSON and as the CLI's text. */
async function security(c: Call): Promise<void> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  if (rec.state !== 'running') throw new ApiError(409, `instance ${rec.name} is not running: its isolation is measured from inside it`);
  const profile = await measureSecurity(e.driver(rec.kind), rec);
  sendJson(c.res, 200, { profile, text: renderProfile(profile) });
}

export function register(r: Router): void {
  r.add('GET', '/dashboard/?', (c) => file({ ...c, params: [''] }))
    .add('GET', '/dashboard/(app\\.js|app\\.css)', file)
    .add('GET', '/dashboard/session', session)
    .add('POST', '/dashboard/login', login)
    .add('POST', '/dashboard/logout', logout)
    .add('GET', `/dashboard/security/${SEGMENT}`, security);
}
