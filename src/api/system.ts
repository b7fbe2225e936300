import os from 'node:os';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Router, Call } from './router.js';
import { API_VERSION, MIN_API_VERSION } from './router.js';
import { sendJson } from './http.js';
import { badRequest } from './errors.js';
import { KINDS, type Capability, type Kind } from '../core/types.js';
import { VERSION } from '../cli/version.js';
import { eventJson, eventMatches } from '../cli/events.js';
import { lifeOf } from '../state/instances.js';
import { isBuildCacheRef } from '../image/build/cache.js';

const EVENT_FILTERS = ['type', 'event', 'container', 'image', 'label', 'kind'];

/** Probes are slow (they start programs); /info reuses one for a while. */
const PROBE_TTL_MS = 30_000;
let probed: { at: number; caps: Promise<Record<Kind, Capability>> } | null = null;

function ping(c: Call): void {
  c.res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8', 'API-Version': API_VERSION, 'OSType': 'linux', 'Docker-Experimental': 'false',
    'Cache-Control': 'no-cache, no-store, must-revalidate', 'Pragma': 'no-cache', 'Content-Length': 2,
  });
  c.res.end(c.req.method === 'HEAD' ? undefined : 'OK');
}

function version(c: Call): void {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: arch(), KernelVersion: os.release(), GoVersion: `node ${process.version}` };
  sendJson(c.res, 200, {
    Platform: { Name: 'isola' },
    Components: [{ Name: 'Engine', Version: VERSION, Details: details }],
    Version: VERSION, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: '', GoVersion: `node ${process.version}`,
    Os: 'linux', Arch: arch(), KernelVersion: os.release(), BuildTime: '',
  });
}

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

async function probes(c: Call): Promise<Record<Kind, Capability>> {
  if (!probed || Date.now() - probed.at > PROBE_TTL_MS) {
    const caps = Promise.all(KINDS.map(async (k) => [k, await c.api.engine.driver(k).probe().catch((e: Error) => ({ ok: false, reason: e.message, details: {} }))] as const))
      .then((pairs) => Object.fromEntries(pairs) as Record<Kind, Capability>);
    probed = { at: Date.now(), caps };
  }
  return probed.caps;
}

async function info(c: Call): Promise<void> {
  const e = c.api.engine;
  const recs = await e.list(true);
  const caps = await probes(c);
  const running = recs.filter((r) => r.state === 'running');
  const paused = running.filter((r) => lifeOf(r).paused).length;
  const images = e.images().list().filter((i) => !isBuildCacheRef(i.ref));
  // Docker's runtimes, one per isolation kind, each with its probe's result (API 1.46's `status`).
  const Runtimes: Record<string, unknown> = {};
  for (const k of KINDS) {
    const cap = caps[k];
    Runtimes[k] = { path: `isola --as ${k}`, status: { ok: String(cap.ok), ...(cap.reason ? { reason: cap.reason } : {}), ...cap.details } };
  }
  Runtimes.runc = { path: 'runc', status: { ok: String(caps.container.ok), note: 'the container kind with runc' } };
  sendJson(c.res, 200, {
    ID: os.hostname(), Name: os.hostname(),
    Containers: recs.length, ContainersRunning: running.length - paused, ContainersPaused: paused, ContainersStopped: recs.length - running.length,
    Images: images.length, Driver: 'isola', DriverStatus: [], DockerRootDir: e.paths.root,
    OperatingSystem: osName(), OSType: 'linux', OSVersion: '', Architecture: os.machine(), KernelVersion: os.release(),
    NCPU: os.cpus().length, MemTotal: os.totalmem(), ServerVersion: VERSION, IndexServerAddress: '',
    Runtimes, DefaultRuntime: 'container', Isolation: '', SecurityOptions: ['name=seccomp,profile=builtin'],
    CgroupDriver: 'cgroupfs', CgroupVersion: '2', LoggingDriver: 'json-file', Plugins: { Volume: ['local'], Network: ['bridge', 'null'], Log: ['json-file'] },
    Labels: [], ExperimentalBuild: false, LiveRestoreEnabled: true, Swarm: { LocalNodeState: 'inactive' },
    Warnings: KINDS.filter((k) => !caps[k].ok).map((k) => `WARNING: runtime ${k} is not available: ${caps[k].reason ?? 'probe failed'}`),
  });
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** Docker's time arguments: Unix seconds (with a fraction) or RFC 3339; as microseconds. */
export function timeArgUs(text: string | undefined, name: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (/^\d{1,12}(\.\d{1,9})?$/.test(text)) return Math.round(Number(text) * 1e6);
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw badRequest(`invalid ${name} "${text.slice(0, 60)}": use Unix seconds or RFC 3339`);
  return t * 1000;
}

/** GET /events: what happened since `since`, then what happens until `until` or the client leaves. */
async function events(c: Call): Promise<void> {
  const e = c.api.engine;
  const filters = c.query.filters(EVENT_FILTERS);
  const sinceUs = timeArgUs(c.query.str('since'), 'since');
  const untilUs = timeArgUs(c.query.str('until'), 'until');
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  c.res.flushHeaders();
  let gone = false;
  c.res.on('close', () => (gone = true));
  let after = sinceUs === undefined ? e.events.lastSeq() : 0;
  while (!gone && !c.api.closing.aborted) {
    for (const ev of e.events.list({ afterSeq: after, ...(sinceUs !== undefined ? { sinceUs } : {}), ...(untilUs !== undefined ? { untilUs } : {}) })) {
      after = ev.seq;
      if (eventMatches(ev, filters)) c.res.write(`${JSON.stringify(eventJson(ev))}\n`);
    }
    if (untilUs !== undefined && Date.now() * 1000 >= untilUs) break;
    await sleep(200);
  }
  c.res.end();
}

export function register(r: Router): void {
  r.add('GET', '/_ping', ping)
    .add('HEAD', '/_ping', ping)
    .add('GET', '/version', version)
    .add('GET', '/info', info)
    .add('GET', '/events', events);
}
