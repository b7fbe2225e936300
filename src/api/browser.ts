import net from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

/**
 * What keeps a browser from being turned against `isola serve` (docs/API.md#the-dashboard):
 * dashboard sessions (an HttpOnly, SameSite=Strict cookie, given for the bearer token or by a
 * listener that authenticates by itself), and a guard on every request a browser sends (it
 * carries Origin or Sec-Fetch-*; the docker CLI and the SDKs send neither): the Host must be an
 * IP address or localhost (DNS rebinding), and a request that changes anything must come from
 * the page's own origin with the session's CSRF token in X-Isola-CSRF.
 */

export const SESSION_COOKIE = 'isola_session';
export const CSRF_HEADER = 'x-isola-csrf';
const SESSION_TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 1000;

interface Session {
  csrf: string;
  expires: number;
}

export class BrowserSessions {
  private readonly sessions = new Map<string, Session>();

  /** `token`: the bearer token of the TCP listener, which a login must give; null when there is none. */
  constructor(private readonly token: Buffer | null, private readonly now: () => number = Date.now) {}

  /** A new session; its id goes into the cookie, its CSRF token to the page. */
  create(): { id: string; csrf: string } {
    this.prune();
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('hex');
    const csrf = randomBytes(32).toString('hex');
    this.sessions.set(id, { csrf, expires: this.now() + SESSION_TTL_MS });
    return { id, csrf };
  }

  /** Whether `given` is the bearer token (compared in constant time). */
  tokenMatches(given: string): boolean {
    if (!this.token) return false;
    const g = Buffer.from(given);
    return g.length === this.token.length && timingSafeEqual(g, this.token);
  }

  /** The session the request's cookie names, when it is live. */
  of(req: IncomingMessage): (Session & { id: string }) | null {
    const id = cookie(req, SESSION_COOKIE);
    if (!id || !/^[a-f0-9]{64}$/.test(id)) return null;
    const s = this.sessions.get(id);
    if (!s || s.expires < this.now()) return null;
    return { id, ...s };
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  private prune(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (s.expires < t) this.sessions.delete(id);
  }
}

/** The Set-Cookie value of a session (Secure over TLS). */
export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A request a browser sent: browsers add Origin (to every POST) or Sec-Fetch-* (to everything); clients of the API add neither. */
export function fromBrowser(req: IncomingMessage): boolean {
  return req.headers.origin !== undefined || req.headers['sec-fetch-site'] !== undefined || req.headers['sec-fetch-mode'] !== undefined;
}

/** Host header names that cannot be rebound to another address: IP literals and localhost. */
export function literalHost(host: string): boolean {
  const name = /^\[([^\]]+)\](?::\d+)?$/.exec(host)?.[1] ?? host.replace(/:\d+$/, '');
  return name === 'localhost' || net.isIP(name) !== 0;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * Refuses (403) a browser's request that a page of another origin could have sent: a Host that
 * is not an IP address or localhost, and a state-changing request from another origin or
 * without the session's CSRF token (`csrfFree` paths, the login, need only the origin).
 */
export function checkBrowserRequest(req: IncomingMessage, sessions: BrowserSessions, csrfFree: boolean): void {
  if (!fromBrowser(req)) return;
  const host = req.headers.host ?? '';
  if (!literalHost(host)) throw new ApiError(403, `browser requests must name the server by IP address or localhost, not "${host.slice(0, 100)}" (a guard against DNS rebinding)`);
  if (SAFE_METHODS.has(req.method ?? 'GET')) return;
  let originHost: string | null;
  try {
    originHost = req.headers.origin ? new URL(req.headers.origin).host : null;
  } catch {
    originHost = null;
  }
  if (originHost !== host) throw new ApiError(403, `cross-origin request refused: ${req.method} from ${String(req.headers.origin ?? 'no origin').slice(0, 100)} to ${host}`);
  if (csrfFree) return;
  const s = sessions.of(req);
  const given = req.headers[CSRF_HEADER];
  if (!s || typeof given !== 'string' || given.length !== s.csrf.length || !timingSafeEqual(Buffer.from(given), Buffer.from(s.csrf))) {
    throw new ApiError(403, 'missing or wrong CSRF token: a browser must send the dashboard session\'s token in X-Isola-CSRF');
  }
}
