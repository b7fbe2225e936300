import os from 'node:os';
import fs from 'node:fs';
import { Writable, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Call, Router } from './router.js';
import { SEGMENT } from './router.js';
import { ApiError, badRequest } from './errors.js';
import { framedWriter, hijackResponse, hijackSocket, readJson, sendEmpty, sendJson, type Hijacked } from './http.js';
import { toRunRequest } from './create-request.js';
import { inspect, summary, dockerState } from './views.js';
import { timeArgUs } from './system.js';
import type { InstanceRecord } from '../state/instances.js';
import { lifeOf } from '../state/instances.js';
import type { AttachSession, LogEntry, ResourceUpdate, RestartPolicy, Stats } from '../core/types.js';
import { parseRestartPolicy } from '../engine/restart-policy.js';
import { attachIO, type AttachClient } from '../engine/attach.js';
import { parseSignal } from '../cli/run-flags.js';
import { isValidName } from '../engine/names.js';

/** An instance's name or id (a prefix), as a path gives it; checked before it reaches anything. */
export function instanceRef(text: string): string {
  const ref = text.startsWith('/') ? text.slice(1) : text;
  if (!isValidName(ref) && !/^[a-f0-9]{64}$/.test(ref)) throw badRequest(`invalid container name or id "${text.slice(0, 80)}"`);
  return ref;
}

export function findInstance(c: Call, text: string): InstanceRecord {
  const ref = instanceRef(text);
  const rec = c.api.engine.instances.find(ref);
  if (!rec) throw new ApiError(404, `No such container: ${ref}`);
  return rec;
}

const discard = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

/** Live attach sessions by instance id, for /resize. */
const sessions = new Map<string, Set<AttachSession>>();

function track(id: string, s: AttachSession): void {
  const set = sessions.get(id) ?? new Set();
  set.add(s);
  sessions.set(id, set);
  void s.done.finally(() => {
    set.delete(s);
    if (set.size === 0) sessions.delete(id);
  });
}

function clientFor(conn: Hijacked, want: { stdin: boolean; stdout: boolean; stderr: boolean }, tty: boolean): AttachClient {
  return {
    stdin: want.stdin ? (conn.input as Readable) : null,
    stdout: want.stdout ? framedWriter(conn.output, 1, tty) : discard(),
    stderr: want.stderr ? framedWriter(conn.output, 2, tty) : discard(),
  };
}

// ---- list, create, inspect ------------------------------------------------------------------

async function list(c: Call): Promise<void> {
  const filters = c.query.filters(['status', 'name', 'id', 'label', 'ancestor', 'runtime']);
  let recs = await c.api.engine.list(c.query.bool('all'));
  for (const [k, values] of filters) {
    recs = recs.filter((r) => values.some((v) => {
      switch (k) {
        case 'status': return dockerState(r) === v;
        case 'name': return r.name.includes(v.replace(/^\//, ''));
        case 'id': return r.id.startsWith(v);
        case 'ancestor': return r.imageRef === v || r.imageRef === `${v}:latest` || r.imageDigest === v;
        case 'runtime': return r.kind === v;
        default: {
          const eq = v.indexOf('=');
          const labels = r.spec.labels ?? {};
          return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
        }
      }
    }));
  }
  recs.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const limit = c.query.int('limit');
  if (limit !== undefined && limit > 0) recs = recs.slice(0, limit);
  sendJson(c.res, 200, recs.map(summary));
}

async function create(c: Call): Promise<void> {
  const req = toRunRequest(await readJson(c.req), c.query.str('name'));
  const rec = await c.api.engine.create(req);
  sendJson(c.res, 201, { Id: rec.id, Warnings: [] });
}

async function inspectOne(c: Call): Promise<void> {
  await c.api.engine.reconcile();
  sendJson(c.res, 200, inspect(findInstance(c, c.params[0] ?? '')));
}

// ---- lifecycle ------------------------------------------------------------------------------

async function start(c: Call): Promise<void> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  if (rec.state === 'running') return sendEmpty(c.res, 304);
  const pending = c.api.pendingAttach.get(rec.id) ?? [];
  c.api.pendingAttach.delete(rec.id);
  const first = pending.shift();
  for (const p of pending) p.conn.end(); // one client takes the start; Docker allows more, isola one
  if (!first || rec.state !== 'created') {
    first?.conn.end();
    await e.startInstance(rec.id);
    return sendEmpty(c.res, 204);
  }
  let session: AttachSession | null = null;
  const client = clientFor(first.conn, first, !!rec.spec.tty);
  try {
    await e.start(rec, { ...attachIO(rec.spec, client), attached: (s) => (session = s) });
  } catch (err) {
    first.conn.end();
    throw err;
  }
  const s = session as AttachSession | null;
  if (s) {
    track(rec.id, s);
    void s.done.finally(() => first.conn.end());
    first.conn.output.on('close', () => s.close());
  } else first.conn.end();
  sendEmpty(c.res, 204);
}

function stopSeconds(c: Call): number | undefined {
  const t = c.query.int('t') ?? c.query.int('timeout');
  if (t !== undefined && t < 0) return undefined; // -1: wait for ever, as Docker; isola waits its default
  return t;
}

async function stop(c: Call): Promise<void> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  if (rec.state !== 'running') return sendEmpty(c.res, 304);
  await e.stop(rec.id, stopSeconds(c));
  sendEmpty(c.res, 204);
}

async function restart(c: Call): Promise<void> {
  const rec = findInstance(c, c.params[0] ?? '');
  await c.api.engine.restart(rec.id, stopSeconds(c));
  sendEmpty(c.res, 204);
}

async function kill(c: Call): Promise<void> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  const signal = parseSignal(c.query.str('signal') ?? 'KILL', 'signal');
  if (rec.state !== 'running') throw new ApiError(409, `Cannot kill container: ${rec.name}: Container ${rec.id} is not running`);
  await e.kill(rec.id, signal);
  sendEmpty(c.res, 204);
}

async function pause(c: Call): Promise<void> {
  await c.api.engine.pause(findInstance(c, c.params[0] ?? '').id);
  sendEmpty(c.res, 204);
}

async function unpause(c: Call): Promise<void> {
  await c.api.engine.unpause(findInstance(c, c.params[0] ?? '').id);
  sendEmpty(c.res, 204);
}

async function rename(c: Call): Promise<void> {
  const name = c.query.str('name');
  if (!name) throw badRequest('the new name is required: ?name=NEW');
  const rec = findInstance(c, c.params[0] ?? '');
  await c.api.engine.rename(rec.id, name.replace(/^\//, ''));
  sendEmpty(c.res, 204);
}

async function remove(c: Call): Promise<void> {
  const rec = findInstance(c, c.params[0] ?? '');
  if (c.query.bool('link')) throw badRequest('links are not supported by isola');
  await c.api.engine.remove(rec.id, c.query.bool('force'), c.query.bool('v'));
  sendEmpty(c.res, 204);
}

/**
 * POST /containers/{id}/wait: the exit status once the condition holds. The exit is recorded by
 * the instance's monitor (another process), so this reads the state database; a `removed`
 * instance's status comes from its `die` event.
 */
async function wait(c: Call): Promise<void> {
  const e = c.api.engine;
  const condition = c.query.str('condition') ?? 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw badRequest(`invalid condition "${condition.slice(0, 40)}": use not-running, next-exit or removed`);
  const first = findInstance(c, c.params[0] ?? '');
  const id = first.id;
  const fromSeq = e.events.lastSeq();
  const before = { runSeq: lifeOf(first).runSeq, finishedAt: first.finishedAt, state: first.state };
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  c.res.flushHeaders();
  let gone = false;
  c.res.on('close', () => (gone = true));
  let code: number | null = null;
  let lastReconcile = Date.now();
  while (!gone && !c.api.closing.aborted) {
    const rec = e.instances.get(id);
    if (!rec) {
      const die = e.events.list({ afterSeq: fromSeq }).filter((ev) => ev.actorId === id && ev.action === 'die').at(-1);
      code = die ? Number(die.attributes.exitCode ?? 0) : (code ?? 0);
      break;
    }
    if (rec.state === 'exited' || rec.state === 'dead') code = rec.exitCode ?? 0;
    const exitedSince = rec.state === 'exited' && (before.state !== 'exited' || rec.finishedAt !== before.finishedAt || lifeOf(rec).runSeq !== before.runSeq);
    if (condition === 'not-running' && rec.state !== 'running' && rec.state !== 'creating') break;
    if (condition === 'next-exit' && exitedSince) break;
    await sleep(100);
    if (Date.now() - lastReconcile > 2000) {
      lastReconcile = Date.now();
      await e.reconcile().catch(() => undefined);
    }
  }
  c.res.end(JSON.stringify({ StatusCode: code ?? 0, Error: null }));
}

// ---- streams: attach, logs ------------------------------------------------------------------

async function attach(c: Call): Promise<void> {
  const e = c.api.engine;
  const rec = findInstance(c, c.params[0] ?? '');
  const want = { stdin: c.query.bool('stdin'), stdout: c.query.bool('stdout'), stderr: c.query.bool('stderr') };
  const stream = c.query.bool('stream');
  if (c.query.bool('logs')) throw badRequest('attach with logs=1 is not supported: read the log with GET /containers/{id}/logs');
  const tty = !!rec.spec.tty;
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  const conn = c.upgrade ? hijackSocket(c.upgrade.socket, c.upgrade.head, type) : hijackResponse(c.req, c.res, type);
  if (!stream) return conn.end();
  if (rec.state === 'created') {
    // `docker run` attaches before it starts: the start connects this client before the first output.
    const list = c.api.pendingAttach.get(rec.id) ?? [];
    const entry = { conn, ...want };
    list.push(entry);
    c.api.pendingAttach.set(rec.id, list);
    conn.output.on('close', () => {
      const now = c.api.pendingAttach.get(rec.id);
      if (now) c.api.pendingAttach.set(rec.id, now.filter((x) => x !== entry));
    });
    return;
  }
  if (rec.state !== 'running') return conn.end();
  const session = await e.driver(rec.kind).attach(rec.spec, rec.data, attachIO(rec.spec, clientFor(conn, want, tty)));
  track(rec.id, session);
  conn.output.on('close', () => session.close());
  await session.done;
  conn.end();
}

async function resize(c: Call): Promise<void> {
  const rec = findInstance(c, c.params[0] ?? '');
  const rows = c.query.int('h');
  const cols = c.query.int('w');
  if (!rows || !cols || rows > 10000 || cols > 10000) throw badRequest('h and w must be whole numbers from 1 to 10000');
  for (const s of sessions.get(rec.id) ?? []) s.resize({ rows, cols });
  sendEmpty(c.res, 200);
}

async function logs(c: Call): Promise<void> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  const wantOut = c.query.bool('stdout');
  const wantErr = c.query.bool('stderr');
  if (!wantOut && !wantErr) throw badRequest('Bad parameters: you must choose at least one stream');
  const tailText = c.query.str('tail') ?? 'all';
  if (tailText !== 'all' && !/^-?\d{1,9}$/.test(tailText)) throw badRequest(`invalid tail "${tailText.slice(0, 20)}": use all or a number of lines`);
  // A negative number is all, as Docker reads it (testcontainers sends -1).
  const tail = tailText === 'all' || tailText.startsWith('-') ? Infinity : Number(tailText);
  const sinceUs = timeArgUs(c.query.str('since'), 'since') ?? -Infinity;
  const untilParam = timeArgUs(c.query.str('until'), 'until');
  const untilUs = untilParam ?? Infinity;
  const timestamps = c.query.bool('timestamps');
  const follow = c.query.bool('follow') && rec.state === 'running' && untilParam === undefined;
  const tty = !!rec.spec.tty;
  c.res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  c.res.flushHeaders();
  const ac = new AbortController();
  const abort = (): void => ac.abort();
  c.res.on('close', abort);
  c.api.closing.addEventListener('abort', abort, { once: true });
  c.res.on('close', () => c.api.closing.removeEventListener('abort', abort));
  const out = framedWriter(c.res, 1, tty);
  const err = framedWriter(c.res, 2, tty);
  const emit = (stderr: boolean, line: string) => (stderr ? err : out).write(line);
  /** The entry as a line to send, or null when filtered out; 'end' past `until`. */
  const lineOf = (entry: LogEntry): { stderr: boolean; line: string } | null | 'end' => {
    const stderr = entry.stream === 'stderr';
    if (stderr ? !wantErr : !wantOut) return null;
    const t = Date.parse(entry.time) * 1000;
    if (Number.isFinite(t) && t < sinceUs) return null;
    if (Number.isFinite(t) && t > untilUs) return 'end';
    return { stderr, line: `${timestamps ? `${entry.time} ` : ''}${entry.text}${entry.partial ? '' : '\n'}` };
  };
  try {
    // tail: the last lines of what is there now, then (follow) what comes after them. The
    // second read skips the entries the first one counted (logs only grow).
    let skip = 0;
    let ended = false;
    if (Number.isFinite(tail)) {
      const buffered: { stderr: boolean; line: string }[] = [];
      for await (const entry of e.logs(rec, false, ac.signal)) {
        skip++;
        const l = lineOf(entry);
        if (l === 'end') {
          ended = true;
          break;
        }
        if (!l) continue;
        buffered.push(l);
        if (buffered.length > tail) buffered.shift();
      }
      for (const b of buffered) emit(b.stderr, b.line);
    }
    if (!ended && (follow || !Number.isFinite(tail))) {
      for await (const entry of e.logs(rec, follow, ac.signal)) {
        if (skip > 0) {
          skip--;
          continue;
        }
        const l = lineOf(entry);
        if (l === 'end') break;
        if (l) emit(l.stderr, l.line);
      }
    }
  } catch (x) {
    if (!ac.signal.aborted) throw x;
  }
  await new Promise<void>((r) => out.end(() => err.end(() => r())));
  c.res.end();
}

// ---- top, stats -----------------------------------------------------------------------------

async function top(c: Call): Promise<void> {
  const psArgs = c.query.str('ps_args');
  if (psArgs && psArgs !== '-ef') throw badRequest('ps_args is not supported: isola lists UID, PID, PPID, TIME and CMD');
  const { processes } = await c.api.engine.top(findInstance(c, c.params[0] ?? '').id);
  const time = (s: number) => new Date(Math.round(s) * 1000).toISOString().slice(11, 19);
  sendJson(c.res, 200, {
    Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    Processes: processes.map((p) => [p.uid, String(p.pid), String(p.ppid), '0', p.started, '?', time(p.cpuSeconds), p.cmd]),
  });
}

/** The host's CPU time in nanoseconds, from /proc/stat (Docker's system_cpu_usage). */
function systemCpuNs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const ticks = line.split(/\s+/).slice(1, 8).reduce((a, x) => a + (Number(x) || 0), 0);
  return ticks * 1e7; // USER_HZ is 100 on Linux
}

interface Sample {
  stats: Stats;
  system: number;
}

function dockerStats(rec: InstanceRecord, now: Sample, pre: Sample | null): Record<string, unknown> {
  const cpu = (s: Sample | null) => ({
    cpu_usage: { total_usage: s?.stats.cpuNanos ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: s?.system ?? 0,
    online_cpus: s ? (rec.kind === 'container' ? os.cpus().length : Math.max(1, Math.ceil(rec.spec.cpus ?? 1))) : 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  const s = now.stats;
  return {
    name: `/${rec.name}`, id: rec.id, read: s.time, preread: pre?.stats.time ?? '0001-01-01T00:00:00Z',
    pids_stats: s.pids !== null ? { current: s.pids } : {},
    cpu_stats: cpu(now),
    precpu_stats: cpu(pre),
    memory_stats: { usage: s.memoryBytes, limit: s.memoryLimitBytes ?? os.totalmem(), stats: {} },
    // The CLI sums the entries by op; isola has one total per direction, not per device.
    blkio_stats: {
      io_service_bytes_recursive: s.blockReadBytes != null || s.blockWriteBytes != null
        ? [{ major: 0, minor: 0, op: 'read', value: s.blockReadBytes ?? 0 }, { major: 0, minor: 0, op: 'write', value: s.blockWriteBytes ?? 0 }]
        : null,
    },
    num_procs: 0,
    ...(s.netRxBytes !== null || s.netTxBytes !== null ? { networks: { eth0: { rx_bytes: s.netRxBytes ?? 0, tx_bytes: s.netTxBytes ?? 0, rx_packets: 0, tx_packets: 0, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 } } } : {}),
    // isola's own: what the isolation itself costs on the host (monitor, VMM).
    isola: { kind: rec.kind, host_overhead_bytes: s.hostOverheadBytes },
  };
}

async function stats(c: Call): Promise<void> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  const stream = c.query.bool('stream', true);
  const oneShot = c.query.bool('one-shot');
  const sample = async (): Promise<Sample> => ({ stats: (await e.stats(rec.id)).stats, system: systemCpuNs() });
  let pre: Sample | null = null;
  let now = await sample(); // refused (409) before any header when it does not run
  if (!stream) {
    if (!oneShot) {
      // As Docker: two samples a second apart, so the client can work out the CPU share.
      await sleep(1000);
      pre = now;
      now = await sample();
    }
    return sendJson(c.res, 200, dockerStats(rec, now, pre));
  }
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  c.res.flushHeaders();
  let gone = false;
  c.res.on('close', () => (gone = true));
  for (;;) {
    c.res.write(`${JSON.stringify(dockerStats(rec, now, pre))}\n`);
    await sleep(1000);
    if (gone || c.api.closing.aborted) break;
    pre = now;
    try {
      now = await sample();
    } catch {
      break; // it stopped
    }
  }
  c.res.end();
}

// ---- archive (docker cp) ---------------------------------------------------------------------

const MODE_DIR = 0x80000000;
const MODE_SYMLINK = 0x08000000;

async function statFor(c: Call): Promise<{ rec: InstanceRecord; path: string; header: string }> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  const p = c.query.str('path');
  if (!p) throw badRequest('path is required: ?path=/PATH');
  if (p.includes('\0') || p.length > 4096) throw badRequest('invalid path');
  if (rec.state !== 'running') throw new ApiError(409, `container ${rec.name} is not running: isola copies in and out of running instances`);
  const abs = p.startsWith('/') ? p : `/${p}`;
  const kind = await e.driver(rec.kind).statPath(rec.spec, rec.data, abs, false);
  if (kind === 'missing') throw new ApiError(404, `Could not find the file ${abs} in container ${rec.name}`);
  const name = abs.replace(/\/+$/, '').split('/').pop() || '/';
  // Go's os.FileMode bits, added (JavaScript's | would make the directory bit a negative number).
  const mode = kind === 'dir' ? MODE_DIR + 0o755 : kind === 'symlink' ? MODE_SYMLINK + 0o777 : 0o644;
  const stat = { name, size: 0, mode, mtime: new Date(0).toISOString(), linkTarget: '' };
  return { rec, path: abs, header: Buffer.from(JSON.stringify(stat)).toString('base64') };
}

async function archiveHead(c: Call): Promise<void> {
  const { header } = await statFor(c);
  c.res.writeHead(200, { 'X-Docker-Container-Path-Stat': header, 'Content-Length': 0 });
  c.res.end();
}

async function archiveGet(c: Call): Promise<void> {
  const { rec, path, header } = await statFor(c);
  c.res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': header });
  await c.api.engine.driver(rec.kind).copyOut(rec.spec, rec.data, path, c.res, { follow: false });
  c.res.end();
}

async function archivePut(c: Call): Promise<void> {
  const { rec, path } = await statFor(c);
  const kind = await c.api.engine.driver(rec.kind).statPath(rec.spec, rec.data, path, true);
  if (kind !== 'dir') throw badRequest(`extraction point is not a directory: ${path}`);
  // docker cp's rule: owners are kept with -a (copyUIDGID), and are root's otherwise.
  const owner = c.query.bool('copyUIDGID') ? {} : { owner: { uid: 0, gid: 0 } };
  await c.api.engine.driver(rec.kind).copyIn(rec.spec, rec.data, path, c.req, owner);
  sendEmpty(c.res, 200);
}

/** POST /containers/{id}/update: memory, CPUs, pids and the restart policy, as `isola update`. */
async function update(c: Call): Promise<void> {
  const rec = findInstance(c, c.params[0] ?? '');
  const body = await readJson(c.req);
  const change: ResourceUpdate = {};
  const num = (k: string): number | undefined => {
    const v = body[k];
    if (v === undefined || v === null || v === 0) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badRequest(`${k} must be a whole number, not negative`);
    return v;
  };
  // Clients send every resource field, most of them zero: only a field set to something is refused.
  const empty = (v: unknown): boolean => v === 0 || v === '' || v === null || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
  for (const [k, v] of Object.entries(body)) {
    if (!['Memory', 'NanoCpus', 'PidsLimit', 'RestartPolicy'].includes(k) && !empty(v)) throw badRequest(`${k.slice(0, 40)} is not supported by isola update: it takes Memory, NanoCpus, PidsLimit and RestartPolicy`);
  }
  const memory = num('Memory');
  if (memory) change.memoryBytes = memory;
  const nano = num('NanoCpus');
  if (nano) change.cpus = nano / 1e9;
  const pids = typeof body.PidsLimit === 'number' && body.PidsLimit > 0 ? num('PidsLimit') : undefined;
  if (pids) change.pidsLimit = pids;
  let restart: RestartPolicy | undefined;
  if (body.RestartPolicy !== undefined && body.RestartPolicy !== null) {
    const rp = body.RestartPolicy as { Name?: unknown; MaximumRetryCount?: unknown };
    if (typeof rp !== 'object' || (rp.Name !== undefined && typeof rp.Name !== 'string')) throw badRequest('RestartPolicy must be {"Name": ..., "MaximumRetryCount": N}');
    const n = typeof rp.MaximumRetryCount === 'number' && rp.MaximumRetryCount > 0 ? rp.MaximumRetryCount : 0;
    if (rp.Name) restart = parseRestartPolicy(rp.Name === 'on-failure' && n ? `on-failure:${n}` : rp.Name);
  }
  if (Object.keys(change).length === 0 && !restart) throw badRequest('nothing to update: give Memory, NanoCpus, PidsLimit or RestartPolicy');
  await c.api.engine.update(rec.id, change, restart);
  sendJson(c.res, 200, { Warnings: [] });
}

export function register(r: Router): void {
  const id = `/containers/${SEGMENT}`;
  r.add('GET', '/containers/json', list)
    .add('POST', '/containers/create', create)
    .add('GET', `${id}/json`, inspectOne)
    .add('POST', `${id}/start`, start)
    .add('POST', `${id}/stop`, stop)
    .add('POST', `${id}/restart`, restart)
    .add('POST', `${id}/kill`, kill)
    .add('POST', `${id}/pause`, pause)
    .add('POST', `${id}/unpause`, unpause)
    .add('POST', `${id}/rename`, rename)
    .add('POST', `${id}/wait`, wait)
    .add('POST', `${id}/attach`, attach)
    .add('POST', `${id}/resize`, resize)
    .add('GET', `${id}/logs`, logs)
    .add('GET', `${id}/top`, top)
    .add('GET', `${id}/stats`, stats)
    .add('HEAD', `${id}/archive`, archiveHead)
    .add('GET', `${id}/archive`, archiveGet)
    .add('PUT', `${id}/archive`, archivePut)
    .add('POST', `${id}/update`, update)
    .add('DELETE', id, remove);
}
