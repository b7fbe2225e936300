import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import http, { ServerResponse, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.js';
import { IsolaError, invalid } from '../core/errors.js';
import { ApiError, toResponse } from './errors.js';
import { Query, hijacked, sendJson } from './http.js';
import { Router, splitVersion, type Call } from './router.js';
import type { ApiContext } from './context.js';
import * as system from './system.js';
import * as containers from './containers.js';
import * as exec from './exec.js';
import * as images from './images.js';
import * as volumes from './volumes.js';
import * as networks from './networks.js';
import * as commit from './commit.js';
import * as metrics from './metrics.js';
import * as dashboard from './dashboard.js';
import * as prune from './prune.js';
import * as build from './build.js';
import * as changes from './changes.js';
import * as exportFs from './export.js';
import * as vmConsole from './console.js';
import * as advise from './advise.js';
import { BrowserSessions, checkBrowserRequest } from './browser.js';

export const DEFAULT_SOCKET = '/run/isola/isola.sock';

export interface ServeOptions {
  /** The unix socket (default DEFAULT_SOCKET); null: none. */
  socket: string | null;
  /** HOST:PORT for TCP, only with mutual TLS or a bearer token. */
  tcp?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tokenFile?: string;
  /** Where one line per failed request goes. */
  log?: (line: string) => void;
  /** Overrides of the limits (tests of slow clients). */
  limits?: { headersTimeoutMs?: number; requestTimeoutMs?: number };
}

export interface RunningServer {
  /** unix:///path and tcp://host:port, as clients write them in DOCKER_HOST. */
  addresses: string[];
  close(): Promise<void>;
}

/** Limits: headers must come within this, a whole request within REQUEST_TIMEOUT_MS. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 300_000;
const MAX_CONNECTIONS = 512;

export function buildRouter(): Router {
  const r = new Router();
  for (const m of [system, containers, exec, images, volumes, networks, commit, metrics, dashboard, prune, build, changes, exportFs, vmConsole, advise]) m.register(r);
  return r;
}

/** Checks the TCP options: no unauthenticated TCP, ever. Throws one line. */
export function checkTcpOptions(o: ServeOptions): void {
  const tls = [o.tlsCert, o.tlsKey, o.tlsCa];
  if (!o.tcp) {
    if (tls.some(Boolean) || o.tokenFile) throw invalid('--tls-cert, --tls-key, --tls-ca and --token-file apply to --tcp', 'add --tcp HOST:PORT, or drop them');
    return;
  }
  const m = /^(.+):(\d{1,5})$/.exec(o.tcp);
  if (!m || Number(m[2]) > 65535 || !net.isIP((m[1] ?? '').replace(/^\[|\]$/g, ''))) throw invalid(`invalid --tcp "${o.tcp}"`, 'use an IP address and a port, e.g. --tcp 127.0.0.1:2376');
  const mutual = tls.every(Boolean);
  if (tls.some(Boolean) && !mutual && !(o.tokenFile && o.tlsCert && o.tlsKey && !o.tlsCa)) throw invalid('mutual TLS needs all of --tls-cert, --tls-key and --tls-ca', 'give all three, or a --token-file (with --tls-cert and --tls-key off loopback)');
  if (!mutual && !o.tokenFile) throw invalid('refusing unauthenticated TCP: anyone who reaches the port could run anything as root', 'add --tls-cert, --tls-key and --tls-ca (mutual TLS) or --token-file FILE (a bearer token)');
  const loopback = /^(127\.|::1$|\[::1\]$)/.test(m[1] ?? '');
  if (o.tokenFile && !o.tlsCert && !loopback) throw invalid('a bearer token over plain TCP off loopback would travel in clear text', 'add --tls-cert and --tls-key, or listen on 127.0.0.1');
}

function readToken(file: string): Buffer {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw invalid(`cannot read --token-file ${file}: ${(e as Error).message}`, 'give a file holding the token');
  }
  if (text.length < 16 || /\s/.test(text)) throw invalid(`the token in ${file} is shorter than 16 characters or has spaces`, 'write a long random token, e.g. openssl rand -hex 32 > FILE');
  return Buffer.from(text);
}

function tokenOk(req: IncomingMessage, token: Buffer): boolean {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const given = Buffer.from(m?.[1] ?? '');
  return given.length === token.length && timingSafeEqual(given, token);
}

/** The `isola` group's id, when the host has one. */
function isolaGid(): number | null {
  try {
    const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('isola:'));
    const gid = Number(line?.split(':')[2]);
    return Number.isInteger(gid) ? gid : null;
  } catch {
    return null;
  }
}

/** Removes a socket file left by a server that is gone; refuses when one still answers there. */
async function clearStaleSocket(p: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (!st.isSocket()) throw invalid(`${p} exists and is not a socket`, 'remove it or choose another --socket');
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new IsolaError('ALREADY_EXISTS', `another server is listening on ${p}`, 'stop it first, or choose another --socket');
  fs.rmSync(p, { force: true });
}

function listen(server: net.Server, ...args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...args, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Starts `isola serve`: the Docker Engine API over the engine, on a unix socket and optionally TCP. */
export async function startServer(engine: Engine, o: ServeOptions): Promise<RunningServer> {
  checkTcpOptions(o);
  const token = o.tokenFile ? readToken(o.tokenFile) : null;
  const router = buildRouter();
  const closing = new AbortController();
  const api: ApiContext = { engine, execs: new Map(), pendingAttach: new Map(), closing: closing.signal, browser: new BrowserSessions(token) };
  const log = o.log ?? ((): void => undefined);

  const handle = async (req: IncomingMessage, res: ServerResponse, needsToken: boolean, upgrade?: { socket: Duplex; head: Buffer }): Promise<void> => {
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://isola');
      } catch {
        throw new ApiError(400, 'invalid request URL');
      }
      const { version, path: p } = splitVersion(url.pathname);
      // The token, or a dashboard session opened with it; the dashboard's page and login are open.
      const trusted = !needsToken || !token;
      if (!trusted && token && !tokenOk(req, token) && !api.browser.of(req) && !dashboard.publicPath(p)) {
        throw new ApiError(401, 'a valid bearer token is required (Authorization: Bearer ...)');
      }
      checkBrowserRequest(req, api.browser, p === '/dashboard/login');
      const { handler, params } = router.match(req.method ?? 'GET', p);
      const call: Call = { req, res, params, query: new Query(url.searchParams), api, version, trusted, ...(upgrade ? { upgrade } : {}) };
      await handler(call);
    } catch (e) {
      const { status, message } = toResponse(e);
      if (status >= 500) log(`${req.method} ${req.url}: ${message}`);
      if (upgrade && hijacked.has(upgrade.socket)) return void upgrade.socket.end();
      if (!res.headersSent) sendJson(res, status, { message });
      else res.end();
    }
  };

  // Node checks the header and request timeouts this often (its default is 30 s).
  const checking = Math.min(1000, Math.max(50, Math.floor((o.limits?.headersTimeoutMs ?? HEADERS_TIMEOUT_MS) / 4)));
  const httpOptions = { maxHeaderSize: 16 * 1024, connectionsCheckingInterval: checking };
  const configure = (s: http.Server, needsToken: boolean): void => {
    s.headersTimeout = o.limits?.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    s.requestTimeout = o.limits?.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    s.keepAliveTimeout = 5_000;
    s.maxConnections = MAX_CONNECTIONS;
    s.on('request', (req: IncomingMessage, res: ServerResponse) => void handle(req, res, needsToken));
    // attach and exec start take the connection over (`Upgrade: tcp`), as `docker run` and `docker exec` ask.
    s.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as net.Socket);
      res.on('finish', () => {
        if (!hijacked.has(socket)) socket.end();
      });
      socket.on('error', () => undefined);
      void handle(req, res, needsToken, { socket, head });
    });
    s.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) return void socket.destroy();
      const [status, message] = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['408 Request Timeout', 'the request did not come in time']
        : e.code === 'HPE_HEADER_OVERFLOW' ? ['431 Request Header Fields Too Large', 'request headers over 16 KiB'] : ['400 Bad Request', 'malformed HTTP request'];
      const body = JSON.stringify({ message });
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
  };

  const servers: net.Server[] = [];
  const addresses: string[] = [];
  try {
    if (o.socket) {
      fs.mkdirSync(path.dirname(o.socket), { recursive: true, mode: 0o755 });
      await clearStaleSocket(o.socket);
      const s = http.createServer(httpOptions);
      configure(s, false);
      // Made private first, opened to the isola group once it is there: never world-writable.
      const umask = process.umask(0o177);
      try {
        await listen(s, o.socket);
      } finally {
        process.umask(umask);
      }
      const gid = isolaGid();
      if (gid !== null) {
        fs.chownSync(o.socket, 0, gid);
        fs.chmodSync(o.socket, 0o660);
      }
      servers.push(s);
      addresses.push(`unix://${o.socket}`);
    }
    if (o.tcp) {
      const m = /^(.+):(\d+)$/.exec(o.tcp);
      const host = (m?.[1] ?? '').replace(/^\[|\]$/g, '');
      const port = Number(m?.[2]);
      const s = o.tlsCert && o.tlsKey
        ? https.createServer({
          cert: fs.readFileSync(o.tlsCert), key: fs.readFileSync(o.tlsKey), minVersion: 'TLSv1.2', ...httpOptions,
          ...(o.tlsCa ? { ca: fs.readFileSync(o.tlsCa), requestCert: true, rejectUnauthorized: true } : {}),
        })
        : http.createServer(httpOptions);
      configure(s, true);
      await listen(s, port, host);
      const a = s.address() as net.AddressInfo;
      servers.push(s);
      addresses.push(`tcp://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  if (servers.length === 0) throw invalid('nothing to listen on', 'give --socket PATH or --tcp HOST:PORT');
  return {
    addresses,
    async close() {
      closing.abort();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        (s as http.Server).closeIdleConnections?.();
        setTimeout(() => (s as http.Server).closeAllConnections?.(), 2000).unref();
      })));
      if (o.socket) fs.rmSync(o.socket, { force: true });
    },
  };
}
