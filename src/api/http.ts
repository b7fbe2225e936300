import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable, type Duplex } from 'node:stream';
import { ApiError, badRequest } from './errors.js';

/** The largest JSON body any endpoint takes (a container create with every field is a few KiB). */
export const JSON_BODY_LIMIT = 1024 * 1024;

/** Reads the whole body, refusing more than `limit` bytes (413) before it is all buffered. */
export async function readBody(req: IncomingMessage, limit = JSON_BODY_LIMIT): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new ApiError(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new ApiError(413, `request body is over the limit of ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The JSON object of the body; an empty body is `{}`. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return parseJsonObject(await readBody(req));
}

export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw badRequest(`invalid JSON body: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('the JSON body must be an object');
  return v as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

/** Query parameters, with Docker's booleans (1, true, True) and integers. */
export class Query {
  constructor(private readonly params: URLSearchParams) {}
  str(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }
  all(name: string): string[] {
    return this.params.getAll(name);
  }
  bool(name: string, dflt = false): boolean {
    const v = this.params.get(name);
    if (v === null || v === '') return dflt;
    if (['1', 'true', 'True', 'TRUE'].includes(v)) return true;
    if (['0', 'false', 'False', 'FALSE'].includes(v)) return false;
    throw badRequest(`invalid boolean value "${v}" for query parameter ${name}`);
  }
  int(name: string): number | undefined {
    const v = this.params.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d{1,15}$/.test(v)) throw badRequest(`invalid integer value "${v}" for query parameter ${name}`);
    return Number(v);
  }
  /** Docker's `filters`: a JSON map of name to a list of values (or to a map of value to true). */
  filters(known: readonly string[]): Map<string, string[]> {
    const text = this.params.get('filters');
    const out = new Map<string, string[]>();
    if (!text) return out;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw badRequest(`invalid filters: ${text.slice(0, 100)}`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid filters: not a JSON object');
    for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
      if (!known.includes(k)) throw badRequest(`invalid filter '${k}'`);
      const list = Array.isArray(vals) ? vals : vals && typeof vals === 'object' ? Object.keys(vals) : null;
      if (!list || list.some((x) => typeof x !== 'string')) throw badRequest(`invalid filter values for '${k}'`);
      out.set(k, list as string[]);
    }
    return out;
  }
}

/** Docker's stream framing without a TTY: 8 bytes (stream, 0, 0, 0, size big-endian), then the bytes. */
export function frame(stream: 0 | 1 | 2, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, data]);
}

/**
 * A connection a client took over (attach, exec start): the upgraded socket (Docker's
 * `Upgrade: tcp`), or, for a client that did not ask to upgrade, the plain response.
 */
export interface Hijacked {
  /** What the client writes after the request (stdin). */
  input: NodeJS.ReadableStream;
  output: Writable;
  end(): void;
}

/** Writes the 101 answer on an upgraded socket and hands it over as a stream. */
/** Sockets a handler took over: the server writes no error response on them. */
export const hijacked = new WeakSet<Duplex>();

export function hijackSocket(socket: Duplex, head: Buffer, contentType: string): Hijacked {
  hijacked.add(socket);
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  if (head.length > 0) socket.unshift(head);
  return { input: socket, output: socket, end: () => socket.end() };
}

export function hijackResponse(req: IncomingMessage, res: ServerResponse, contentType: string): Hijacked {
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  return { input: req, output: res, end: () => res.end() };
}

/** A Writable that frames what is written to it as `stream` onto `out` (or passes it raw with a TTY). */
export function framedWriter(out: Writable, stream: 1 | 2, raw: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (out.destroyed || out.writableEnded) return cb(); // the client left: the workload goes on
      const ok = out.write(raw ? chunk : frame(stream, Buffer.from(chunk)));
      if (ok) cb();
      else {
        const done = (): void => {
          out.off('drain', done);
          out.off('close', done);
          cb();
        };
        out.on('drain', done);
        out.on('close', done);
      }
    },
  });
}
