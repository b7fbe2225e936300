import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from './errors.js';
import { Query } from './http.js';
import type { ApiContext } from './context.js';

/** The Docker Engine API version isola speaks (its fields and behaviour), and the oldest it takes. */
export const API_VERSION = '1.43';
export const MIN_API_VERSION = '1.24';

/** One request as a handler sees it. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: Query;
  api: ApiContext;
  /** The API version the client asked for (its /vX.Y/ prefix), or API_VERSION. */
  version: string;
  /** The listener authenticated the client by itself (unix socket, mutual TLS): no token is asked. */
  trusted: boolean;
  /** Set when the client asked to take the connection over (`Upgrade: tcp`: attach, exec start). */
  upgrade?: { socket: Duplex; head: Buffer };
}

export type Handler = (c: Call) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** Path parameters: a name or id (one path segment), or an image reference (several, e.g. host:5000/a/b:1). */
export const SEGMENT = '([^/]+)';
export const IMAGE = '(.+?)';

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    this.routes.push({ method, pattern: new RegExp(`^${path}$`), handler });
    return this;
  }

  /** The handler for a request and its path parameters; 404 for an unknown path, 405 for a known one with another method. */
  match(method: string, path: string): { handler: Handler; params: string[] } {
    let pathKnown = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathKnown = true;
      // HEAD is GET without a body, as HTTP says, unless the route has its own HEAD.
      if (r.method === method || (method === 'HEAD' && r.method === 'GET' && !this.routes.some((o) => o.method === 'HEAD' && o.pattern.test(path)))) {
        return { handler: r.handler, params: m.slice(1).map((p) => safeDecode(p)) };
      }
    }
    if (pathKnown) throw new ApiError(405, `method ${method} is not allowed on ${path}`);
    throw new ApiError(404, `page not found: ${path}`);
  }
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new ApiError(400, `invalid percent-encoding in the path: ${p.slice(0, 100)}`);
  }
}

/** Splits `/v1.41/containers/json` into the version asked for and the path; refuses versions isola does not speak. */
export function splitVersion(path: string): { version: string; path: string } {
  const m = /^\/v(\d+)\.(\d+)(\/.*)$/.exec(path);
  if (!m) return { version: API_VERSION, path };
  const version = `${Number(m[1])}.${Number(m[2])}`;
  if (compareVersions(version, API_VERSION) > 0) {
    throw new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new ApiError(400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  return { version, path: m[3] ?? '/' };
}

export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}
