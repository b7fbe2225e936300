import { randomBytes } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import type { Call, Router } from './router.js';
import { SEGMENT } from './router.js';
import { ApiError, badRequest, toResponse } from './errors.js';
import { isIsolaError } from '../core/errors.js';
import { framedWriter, hijackResponse, hijackSocket, parseJsonObject, readJson, sendEmpty, sendJson } from './http.js';
import { findInstance } from './containers.js';
import type { ClientTerminal, TerminalSize } from '../core/types.js';
import type { ExecRecord } from './context.js';
import type { Duplex } from 'node:stream';

/** Exec records kept after they end, for their inspect; the oldest go first beyond this. */
const KEEP = 1000;

function bool(v: unknown, name: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw badRequest(`${name} must be true or false`);
  return v;
}

function strings(v: unknown, name: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`${name} must be a list of strings`);
  return v as string[];
}

function sizeOf(v: unknown): TerminalSize | null {
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [rows, cols] = v as unknown[];
  return typeof rows === 'number' && typeof cols === 'number' && rows > 0 && cols > 0 && rows <= 10000 && cols <= 10000 ? { rows, cols } : null;
}

async function create(c: Call): Promise<void> {
  const rec = findInstance(c, c.params[0] ?? '');
  const body = await readJson(c.req);
  const argv = strings(body.Cmd, 'Cmd');
  if (argv.length === 0) throw badRequest('No exec command specified');
  const env = strings(body.Env, 'Env');
  for (const e of env) if (!/^[^=]+=/s.test(e)) throw badRequest(`invalid Env entry "${e.slice(0, 100)}": use KEY=VALUE`);
  if (bool(body.Privileged, 'Privileged')) throw badRequest('privileged exec is not supported by isola');
  if (rec.state !== 'running') throw new ApiError(409, `Container ${rec.id} is not running`);
  for (const k of ['WorkingDir', 'User'] as const) if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') throw badRequest(`${k} must be a string`);
  const id = randomBytes(32).toString('hex');
  const ex: ExecRecord = {
    id, instanceId: rec.id, argv, env,
    ...(body.WorkingDir ? { workdir: body.WorkingDir as string } : {}),
    ...(body.User ? { user: body.User as string } : {}),
    tty: bool(body.Tty, 'Tty'), attachStdin: bool(body.AttachStdin, 'AttachStdin'), attachStdout: bool(body.AttachStdout, 'AttachStdout'),
    attachStderr: bool(body.AttachStderr, 'AttachStderr'), running: false, started: false, exitCode: null, size: sizeOf(body.ConsoleSize),
    resizers: new Set(), createdAt: Date.now(),
  };
  c.api.execs.set(id, ex);
  if (c.api.execs.size > KEEP) {
    for (const [k, v] of c.api.execs) {
      if (c.api.execs.size <= KEEP) break;
      if (!v.running) c.api.execs.delete(k);
    }
  }
  sendJson(c.res, 201, { Id: id });
}

function find(c: Call): ExecRecord {
  const id = c.params[0] ?? '';
  if (!/^[a-f0-9]{1,64}$/.test(id)) throw badRequest('invalid exec id');
  const ex = c.api.execs.get(id);
  if (!ex) throw new ApiError(404, `No such exec instance: ${id}`);
  return ex;
}

/** The body of an upgraded request, which Node leaves on the socket (Content-Length bytes). */
async function upgradeBody(c: Call, socket: Duplex, head: Buffer): Promise<{ body: Record<string, unknown>; rest: Buffer }> {
  const length = Number(c.req.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0 || length > 64 * 1024) throw badRequest('invalid Content-Length for exec start');
  const chunks = [head];
  let have = head.length;
  if (have < length) {
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.pause();
      };
      const onData = (d: Buffer): void => {
        chunks.push(d);
        have += d.length;
        if (have >= length) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(badRequest('the exec start body did not come in time'));
      }, 10_000);
      socket.on('data', onData);
    });
  }
  const buf = Buffer.concat(chunks);
  socket.pause();
  return { body: parseJsonObject(buf.subarray(0, length)), rest: buf.subarray(length) };
}

async function start(c: Call): Promise<void> {
  const ex = find(c);
  let body: Record<string, unknown>;
  let head: Buffer = Buffer.alloc(0);
  if (c.upgrade) {
    const r = await upgradeBody(c, c.upgrade.socket, c.upgrade.head);
    body = r.body;
    head = r.rest;
  } else body = await readJson(c.req);
  if (ex.started) throw new ApiError(409, `exec ${ex.id} has already been started`);
  const rec = findInstance(c, ex.instanceId);
  if (rec.state !== 'running') throw new ApiError(409, `Container ${rec.id} is not running`);
  const detach = bool(body.Detach, 'Detach');
  const tty = body.Tty === undefined ? ex.tty : bool(body.Tty, 'Tty');
  ex.size = sizeOf(body.ConsoleSize) ?? ex.size;
  ex.started = true;
  ex.running = true;
  const terminal: ClientTerminal = {
    size: ex.size,
    onResize: (l) => {
      ex.resizers.add(l);
      return () => ex.resizers.delete(l);
    },
  };
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
  const run = (stdin: Readable | null, stdout: Writable, stderr: Writable) => c.api.engine.exec(rec.id, ex.argv, {
    env: ex.env, ...(ex.workdir ? { workdir: ex.workdir } : {}), ...(ex.user ? { user: ex.user } : {}),
    stdin, stdout, stderr, ...(tty ? { tty: terminal } : {}),
  }).then((code) => {
    ex.exitCode = code;
  }, (e: unknown) => {
    // As Docker: 127 when the command is not found, 126 when it cannot be run; the reason on stderr.
    ex.exitCode = isIsolaError(e, 'COMMAND_NOT_FOUND') ? 127 : 126;
    stderr.write(`${toResponse(e).message}\n`);
  }).finally(() => {
    ex.running = false;
  });
  if (detach) {
    void run(null, sink(), sink());
    return sendEmpty(c.res, 200);
  }
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  const conn = c.upgrade ? hijackSocket(c.upgrade.socket, head, type) : hijackResponse(c.req, c.res, type);
  await run(ex.attachStdin ? (conn.input as Readable) : null, ex.attachStdout ? framedWriter(conn.output, 1, tty) : sink(), ex.attachStderr ? framedWriter(conn.output, 2, tty) : sink());
  conn.end();
}

function inspect(c: Call): void {
  const ex = find(c);
  sendJson(c.res, 200, {
    ID: ex.id, Running: ex.running, ExitCode: ex.exitCode, ContainerID: ex.instanceId, Pid: 0, CanRemove: false, DetachKeys: '',
    OpenStdin: ex.attachStdin, OpenStdout: ex.attachStdout, OpenStderr: ex.attachStderr,
    ProcessConfig: { tty: ex.tty, entrypoint: ex.argv[0], arguments: ex.argv.slice(1), privileged: false, user: ex.user ?? '' },
  });
}

function resize(c: Call): void {
  const ex = find(c);
  const rows = c.query.int('h');
  const cols = c.query.int('w');
  if (!rows || !cols || rows > 10000 || cols > 10000) throw badRequest('h and w must be whole numbers from 1 to 10000');
  ex.size = { rows, cols };
  for (const l of ex.resizers) l({ rows, cols });
  sendEmpty(c.res, 201);
}

export function register(r: Router): void {
  r.add('POST', `/containers/${SEGMENT}/exec`, create)
    .add('POST', `/exec/${SEGMENT}/start`, start)
    .add('POST', `/exec/${SEGMENT}/resize`, resize)
    .add('GET', `/exec/${SEGMENT}/json`, inspect);
}
