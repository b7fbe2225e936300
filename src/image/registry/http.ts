import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * HTTP for the registry client on Node's own http and https modules. They are part of Node's
 * startup snapshot; undici from npm cost about 60 ms of module loading per command on this
 * 2-core host (measured: `node -e "await import('undici')"` 0.12 s against 0.06 s for
 * node:http and node:https), a tenth of a whole `isola pull` of 100 MiB.
 */

/** A response body: a stream, plus the two ways the client ends one. */
export interface ResponseBody extends AsyncIterable<Buffer> {
  /** Reads the rest away (up to DUMP_LIMIT, then closes), so the connection can be reused. */
  dump(): Promise<void>;
  /** The whole body as UTF-8. */
  text(): Promise<string>;
  destroy(error?: Error): void;
  readonly stream: Readable;
}

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: ResponseBody;
}

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: Buffer | NodeJS.ReadableStream | undefined;
  signal?: AbortSignal | undefined;
  /** Idle time (no bytes either way) after which the request fails with ETIMEDOUT. */
  idleTimeoutMs: number;
}

/** A body bigger than this is not worth reading to keep one connection: the socket is closed instead. */
const DUMP_LIMIT = 256 * 1024;

function bodyOf(res: IncomingMessage): ResponseBody {
  return {
    stream: res,
    [Symbol.asyncIterator]: () => res[Symbol.asyncIterator]() as AsyncIterator<Buffer>,
    destroy: (e?: Error) => res.destroy(e),
    dump: () => new Promise<void>((resolve) => {
      // A body that has fully arrived (`complete`, as a HEAD answer or a short 401 always is)
      // still holds its socket until it is read to its end: only then does the agent take the
      // socket back. Resolving early here left such sockets busy until the idle timeout (60 s).
      if (res.readableEnded || res.destroyed) {
        resolve();
        return;
      }
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > DUMP_LIMIT) res.destroy();
      });
      res.once('end', resolve);
      res.once('close', resolve);
      res.once('error', () => resolve());
      res.resume();
    }),
    text: async () => {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no data for ${ms} ms`), { code: 'ETIMEDOUT' });
}

/**
 * One request on `agent`. Resolves with the response once its headers arrive; the body is then
 * the caller's to read, dump or destroy. Rejects with Node's own error codes (ECONNREFUSED,
 * ECONNRESET, ETIMEDOUT, TLS verification codes), which errors.ts turns into isola's.
 */
export function httpRequest(url: string, agent: http.Agent, r: HttpRequest): Promise<HttpResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: r.method, headers: r.headers, agent, ...(r.signal ? { signal: r.signal } : {}) });
    req.setTimeout(r.idleTimeoutMs, () => req.destroy(timeoutError(r.idleTimeoutMs)));
    req.once('error', reject);
    req.once('response', (res) => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: bodyOf(res) }));
    const body = r.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      // A failing source fails the request; a request that fails stops reading the source.
      const source = body as Readable;
      source.once('error', (e) => req.destroy(e));
      req.once('close', () => {
        if (!source.readableEnded) source.destroy();
      });
      source.pipe(req);
    }
  });
}

export interface Agents {
  http: http.Agent;
  /** Made on first use: parsing the system's CA bundle is wasted on a plain-HTTP registry. */
  https: () => https.Agent;
  destroy: () => void;
}

export function makeAgents(tls: { ca: () => string[]; rejectUnauthorized: boolean }): Agents {
  let secure: https.Agent | undefined;
  const plain = new http.Agent({ keepAlive: true, maxSockets: 8 });
  return {
    http: plain,
    https: () => (secure ??= new https.Agent({ keepAlive: true, maxSockets: 8, ca: tls.ca(), rejectUnauthorized: tls.rejectUnauthorized })),
    destroy: () => {
      plain.destroy();
      secure?.destroy();
    },
  };
}
