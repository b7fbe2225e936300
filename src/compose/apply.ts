import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { IsolaError, invalid, isIsolaError } from '../core/errors.js';
import { findProcesses, type Engine } from '../engine/engine.js';
import type { InstanceRecord } from '../state/instances.js';
import { lifeOf } from '../state/instances.js';
import { processAlive } from '../util/process.js';
import { defaultRunRequest, type RunRequest } from '../engine/request.js';
import { parseRestartPolicy } from '../engine/restart-policy.js';
import { normalizeRef } from '../image/ref.js';
import { BASE_REF } from '../image/base.js';
import type { DependsCondition, ServiceModel, StackModel } from './model.js';
import { LABEL, configHash, instanceName, planUp, startOrder, type Action, type Existing } from './plan.js';
import { RevisionRepo } from '../state/revisions.js';
import { frontPorts, reachOf, runningTargets, syncFront } from './front.js';
import { planRollout, runRollout, RolloutFailure, type RolloutOps } from './rollout.js';

/** The stack's instances, from the labels: every kind, every state. */
export function stackInstances(engine: Engine, project: string): InstanceRecord[] {
  return engine.instances.list()
    .filter((r) => r.spec.labels?.[LABEL.project] === project)
    .sort((a, b) => (serviceOf(a).localeCompare(serviceOf(b))) || numberOf(a) - numberOf(b));
}

export const serviceOf = (r: InstanceRecord): string => r.spec.labels?.[LABEL.service] ?? '';
export const numberOf = (r: InstanceRecord): number => Number(r.spec.labels?.[LABEL.number] ?? 0);
/** `web-1`: how logs and ps name a replica (Compose's log prefix). */
export const replicaName = (r: InstanceRecord): string => `${serviceOf(r)}-${numberOf(r)}`;

function existing(recs: readonly InstanceRecord[]): Existing[] {
  return recs.map((r) => ({ id: r.id, name: r.name, service: serviceOf(r), number: numberOf(r), hash: `${r.spec.labels?.[LABEL.configHash] ?? ''}`, running: r.state === 'running' }));
}

export interface ImageHooks {
  /** Builds a service's image (its `build:`), tagged as `service.image`. */
  build(service: ServiceModel): Promise<void>;
  /** Pulls a reference from its registry. */
  pull(ref: string): Promise<void>;
}

/**
 * Every service's image, present: built when it has `build:` and is missing (or `build` asks
 * again), pulled when missing otherwise (`base` is built in). Resolves digests per service.
 */
export async function ensureImages(engine: Engine, model: StackModel, hooks: ImageHooks, o: { build?: boolean; out: Writable }): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (const s of model.services) {
    const present = normalizeRef(s.image) === BASE_REF || stored(engine, s.image);
    if (s.build && (o.build || !present)) {
      o.out.write(`Building ${s.name} (${s.image})\n`);
      await hooks.build(s);
    } else if (!present) {
      o.out.write(`Pulling ${s.name} (${s.image})\n`);
      await hooks.pull(s.image);
    }
    digests.set(s.name, (await engine.resolveImage(s.image)).digest);
  }
  return digests;
}

function stored(engine: Engine, ref: string): boolean {
  try {
    engine.images().resolve(ref);
    return true;
  } catch (e) {
    if (isIsolaError(e, 'NOT_FOUND')) return false;
    throw e;
  }
}

/** The RunRequest of one replica: the service's model, its network, Compose's labels. */
export function requestFor(model: StackModel, s: ServiceModel, n: number, hash: string): RunRequest {
  const netKey = s.networks[0] ?? 'default';
  const net = model.networks.find((x) => x.key === netKey);
  const req = defaultRunRequest(s.image, s.command ?? []);
  const entry = s.entrypoint;
  return {
    ...req,
    kind: s.kind,
    name: instanceName(model.project, s.name, n),
    detach: true,
    // An entrypoint list: its first word is the entrypoint, the rest goes before the command (Docker's rule gives the same argv).
    ...(entry !== undefined ? { entrypoint: entry[0] ?? '', command: [...entry.slice(1), ...(s.command ?? [])] } : {}),
    env: s.environment,
    // A container in a machine is on the stack's networks too: the host routes its address to the machine.
    ...(s.machine ? { machine: s.machine } : {}),
    network: net?.name ?? `${model.project}_default`,
    aliases: [s.name],
    publish: s.ports,
    mounts: s.volumes,
    ...(s.health ? { health: s.health } : {}),
    ...(s.restart ? { restart: parseRestartPolicy(s.restart) } : {}),
    ...(s.memoryBytes ? { memoryBytes: s.memoryBytes } : {}),
    ...(s.cpus ? { cpus: s.cpus } : {}),
    ...(s.pidsLimit ? { pidsLimit: s.pidsLimit } : {}),
    ...(s.workdir ? { workdir: s.workdir } : {}),
    ...(s.user !== undefined ? { user: s.user } : {}),
    ...(s.hostname ? { hostname: s.hostname } : {}),
    ...(s.stopSignal ? { stopSignal: s.stopSignal } : {}),
    ...(s.stopTimeout !== undefined ? { stopTimeout: s.stopTimeout } : {}),
    ...(s.readOnly ? { readOnly: true } : {}),
    ...(s.init ? { init: true } : {}),
    ...(s.privileged ? { privileged: true } : {}),
    capAdd: s.capAdd ?? [],
    capDrop: s.capDrop ?? [],
    ...(s.extraHosts?.length ? { extraHosts: s.extraHosts.map((h) => ({ host: h.slice(0, h.indexOf(':')), ip: h.slice(h.indexOf(':') + 1) })) } : {}),
    labels: {
      ...s.labels,
      [LABEL.project]: model.project,
      [LABEL.service]: s.name,
      [LABEL.number]: String(n),
      [LABEL.configHash]: hash,
      [LABEL.oneoff]: 'False',
      [LABEL.configFiles]: model.file,
      [LABEL.workingDir]: model.dir,
    },
  };
}

export interface UpOptions {
  scale: ReadonlyMap<string, number>;
  noStart: boolean;
  removeOrphans: boolean;
  out: Writable;
  /** How long to wait for a dependency's condition, and for a new replica of a rollout to be ready (ms). */
  waitMs?: number;
  /** Replicas a rolling update replaces at a time (default 1). */
  parallelism?: number;
  /** Only this service (compose rollback): the others are neither touched nor reported. */
  only?: string;
}

/**
 * `compose up`: networks, then per service in dependency order its replicas, each kept,
 * started, recreated or created as planUp says (a dependency's condition met first). Whatever
 * fails, what this call made is removed and what it replaced is put back, so the stack is as it was.
 */
export async function up(engine: Engine, model: StackModel, digests: ReadonlyMap<string, string>, o: UpOptions): Promise<InstanceRecord[]> {
  await engine.reconcile();
  const hashes = new Map(model.services.map((s) => [s.name, configHash(s, digests.get(s.name) ?? '')]));
  const planned = planUp(model, hashes, o.scale, existing(stackInstances(engine, model.project)), o.noStart);
  const actions = o.only === undefined ? planned.actions : planned.actions.filter((a) => a.service === o.only);
  const orphans = o.only === undefined ? planned.orphans : [];
  // Everything the stack needs from outside it, checked before anything is made.
  for (const n of model.networks.filter((x) => x.external)) engine.networks.resolve(n.name);
  for (const v of model.volumes.filter((x) => x.external)) engine.volumes.inspect(v.name);
  const undo: (() => Promise<void>)[] = [];
  const commit: (() => Promise<void>)[] = [];
  try {
    for (const n of model.networks.filter((x) => !x.external)) {
      if (engine.networks.list().some((x) => x.name === n.name)) continue;
      await engine.networks.create(n.name, n.subnet ? { subnet: n.subnet } : {});
      o.out.write(`Network ${n.name} Created\n`);
      undo.push(async () => void (await engine.networks.remove(n.name).catch(() => undefined)));
    }
    for (const s of startOrder(model.services)) {
      const mine = actions.filter((a) => a.service === s.name);
      if (!o.noStart && mine.some((a) => a.type !== 'keep' && a.type !== 'remove')) {
        for (const d of s.dependsOn) await waitFor(engine, model.project, d.service, d.condition, o.waitMs ?? 600_000, o.out);
      }
      // Running replicas of a changed service are rolled (docs/COMPOSE.md); the rest as planned.
      const rolled = o.noStart ? [] : mine.filter((a): a is Extract<Action, { type: 'recreate' }> => a.type === 'recreate' && a.old.running);
      // The service's fixed ports (front.ts): put back as they were on failure, then pointed at its replicas now.
      const front = !o.noStart && frontPorts(s).length > 0 && (o.only === undefined || o.only === s.name);
      if (front) undo.push(async () => void (await syncFront(engine, model.project, s, runningTargets(engine, model.project, s.name)).catch(() => undefined)));
      for (const a of mine.filter((x) => !rolled.includes(x as Extract<Action, { type: 'recreate' }>))) await apply(engine, model, s, a, hashes.get(s.name) ?? '', o, undo, commit);
      if (rolled.length > 0) await roll(engine, model, s, rolled, hashes.get(s.name) ?? '', o, undo, commit);
      if (front) await syncFront(engine, model.project, s, runningTargets(engine, model.project, s.name));
    }
  } catch (e) {
    for (const u of undo.reverse()) await u().catch(() => undefined);
    throw e;
  }
  for (const c of commit) await c();
  const revisions = new RevisionRepo(engine.db);
  for (const s of model.services.filter((x) => o.only === undefined || x.name === o.only)) {
    revisions.record({ project: model.project, service: s.name, imageRef: s.image, imageDigest: digests.get(s.name) ?? '', configHash: hashes.get(s.name) ?? '', serviceJson: JSON.stringify(s) });
  }
  for (const orphan of orphans) {
    if (o.removeOrphans) {
      await engine.remove(orphan.id, true);
      o.out.write(`Instance ${orphan.name} Removed (orphan)\n`);
    } else {
      o.out.write(`warning: instance ${orphan.name} is of service ${orphan.service}, which the file no longer has; remove it with --remove-orphans\n`);
    }
  }
  return stackInstances(engine, model.project);
}

/** Makes (and unless noStart, starts) replica n of a service under its name; resolves with its record. */
async function makeReplica(engine: Engine, model: StackModel, s: ServiceModel, n: number, hash: string, noStart: boolean): Promise<InstanceRecord> {
  // Fixed host ports are the service's (front.ts), not a replica's.
  const rec = await engine.create({ ...requestFor(model, s, n, hash), publish: s.ports.filter((p) => p.hostPort === 0) });
  try {
    for (const key of s.networks.slice(1)) {
      const net = model.networks.find((x) => x.key === key);
      if (net) await engine.networks.connect(net.name, engine.find(rec.id));
    }
    if (!noStart) await engine.start(engine.find(rec.id));
  } catch (e) {
    await engine.remove(rec.id, true).catch(() => undefined);
    throw e;
  }
  return rec;
}

/**
 * The rolling update of one service's running replicas (rollout.ts): new replica up and ready
 * before an old one stops. A new replica that fails ends it: the service is put back as it was
 * and the up fails with one line naming the replica.
 */
async function roll(engine: Engine, model: StackModel, s: ServiceModel, actions: readonly Extract<Action, { type: 'recreate' }>[], hash: string, o: UpOptions, undo: (() => Promise<void>)[], commit: (() => Promise<void>)[]): Promise<void> {
  const olds = new Map(actions.map((a) => [a.number, a.old]));
  // Old replicas still serving the service's fixed ports, until their new one is ready.
  const serving = new Set(actions.map((a) => a.number));
  const front = frontPorts(s).length > 0;
  const news = new Map<number, string>();
  const name = (n: number) => instanceName(model.project, s.name, n);
  const oldOf = (n: number): Existing => {
    const old = olds.get(n);
    if (!old) throw new Error(`no old replica ${n}`);
    return old;
  };
  const ops: RolloutOps = {
    asideOld: async (n) => engine.rename(oldOf(n).id, `${oldOf(n).id.slice(0, 12)}_${name(n)}`),
    startNew: async (n) => {
      const rec = await makeReplica(engine, model, s, n, hash, false);
      news.set(n, rec.id);
      o.out.write(`Instance ${name(n)} Started (new revision)\n`);
    },
    waitReady: (n) => waitReady(engine, news.get(n) ?? '', n, o.waitMs ?? 600_000),
    stopOld: async (n) => {
      if (front) {
        // The port moves off the old replica (one nft transaction) before it stops; requests it
        // is serving are given a moment to end.
        serving.delete(n);
        const olderIps = [...serving].map((m) => engine.instances.list().find((r) => r.id === oldOf(m).id)).filter((r) => r !== undefined).map((r) => reachOf(r)).filter((ip): ip is string => ip !== undefined);
        await syncFront(engine, model.project, s, [...new Set([...runningTargets(engine, model.project, s.name), ...olderIps])]);
        await new Promise((res) => setTimeout(res, DRAIN_MS));
      }
      await stopReplica(engine, oldOf(n).id);
      o.out.write(`Instance ${oldOf(n).name} Stopped (replaced)\n`);
    },
    removeNew: async (n) => {
      const id = news.get(n);
      if (id) await engine.remove(id, true);
    },
    restoreOld: async (n, stopped) => {
      await engine.rename(oldOf(n).id, name(n));
      if (stopped) await engine.startInstance(oldOf(n).id);
    },
    removeOld: async (n) => void (await engine.remove(oldOf(n).id, true)),
  };
  o.out.write(`Service ${s.name} Rolling ${actions.length} replica(s), ${o.parallelism ?? 1} at a time\n`);
  try {
    const done = await runRollout(planRollout(actions.map((a) => a.number), [], o.parallelism ?? 1), ops);
    undo.push(...done.undo);
    commit.push(...done.commit);
  } catch (e) {
    if (e instanceof RolloutFailure) {
      throw new IsolaError('FAILED_PRECONDITION', `rollout of service ${s.name} failed: new replica ${s.name}-${e.replica} ${e.reason}; service ${s.name} was rolled back to its previous revision`, `fix the image or the healthcheck of ${s.name}, then run isola compose up again`);
    }
    throw e;
  }
  for (const a of actions) o.out.write(`Instance ${name(a.number)} Updated\n`);
}

/** How long an old replica keeps serving the connections it has after the port moved off it. */
const DRAIN_MS = 500;

/** Until a new replica is ready: healthy when it has a healthcheck, else running. A RolloutFailure when it never will be. */
async function waitReady(engine: Engine, id: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await engine.reconcile();
    const r = engine.instances.list().find((x) => x.id === id);
    if (!r) throw new RolloutFailure(n, 'was removed');
    const life = lifeOf(r);
    if (r.state === 'exited' || r.state === 'created') throw new RolloutFailure(n, `exited (status ${String(r.exitCode)}) before it was ready`);
    if (r.spec.health) {
      if (life.health?.status === 'unhealthy') throw new RolloutFailure(n, 'became unhealthy');
      if (life.health?.status === 'healthy' && r.state === 'running') return;
    } else if (r.state === 'running') {
      return;
    }
    if (Date.now() > deadline) throw new RolloutFailure(n, `was not ready in ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function apply(engine: Engine, model: StackModel, s: ServiceModel, a: Action, hash: string, o: UpOptions, undo: (() => Promise<void>)[], commit: (() => Promise<void>)[]): Promise<void> {
  const name = instanceName(model.project, s.name, a.number);
  const make = async () => {
    const rec = await makeReplica(engine, model, s, a.number, hash, o.noStart);
    undo.push(async () => void (await engine.remove(rec.id, true).catch(() => undefined)));
    return rec;
  };
  switch (a.type) {
    case 'keep':
      o.out.write(`Instance ${name} Running\n`);
      return;
    case 'start':
      await engine.startInstance(a.old.id);
      undo.push(async () => void (await engine.stop(a.old.id).catch(() => undefined)));
      o.out.write(`Instance ${name} Started\n`);
      return;
    case 'create':
      await make();
      o.out.write(`Instance ${name} ${o.noStart ? 'Created' : 'Started'}\n`);
      return;
    case 'remove': {
      // Done once everything else succeeded: a failed up leaves the old replicas as they were.
      commit.push(async () => {
        await engine.remove(a.old.id, true);
        o.out.write(`Instance ${a.old.name} Removed\n`);
      });
      return;
    }
    case 'recreate': {
      // Compose's way: the old one stopped and renamed aside, the new one made under the name;
      // the old one removed only once the whole up succeeded, else put back as it was.
      const wasRunning = a.old.running;
      if (wasRunning) await stopReplica(engine, a.old.id);
      const aside = `${a.old.id.slice(0, 12)}_${name}`;
      await engine.rename(a.old.id, aside);
      undo.push(async () => {
        await engine.rename(a.old.id, name).catch(() => undefined);
        if (wasRunning) await engine.startInstance(a.old.id).catch(() => undefined);
      });
      await make();
      commit.push(async () => void (await engine.remove(a.old.id, true)));
      o.out.write(`Instance ${name} Recreated\n`);
    }
  }
}

/** Waits until every replica of `service` meets `condition`; one line when it never will. */
export async function waitFor(engine: Engine, project: string, service: string, condition: DependsCondition, timeoutMs: number, out: Writable): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    await engine.reconcile();
    const recs = stackInstances(engine, project).filter((r) => serviceOf(r) === service && r.name === instanceName(project, service, numberOf(r)));
    const verdicts = recs.map((r) => meets(r, condition));
    const failed = verdicts.find((v) => typeof v === 'string');
    if (failed) throw new IsolaError('FAILED_PRECONDITION', `dependency ${service}: ${failed}`, `see its output with isola compose logs ${service}`);
    if (verdicts.every((v) => v === true)) return;
    if (!said) {
      out.write(`Waiting for ${service} (${condition})\n`);
      said = true;
    }
    if (Date.now() > deadline) throw new IsolaError('TIMEOUT', `dependency ${service} did not reach ${condition} in ${Math.round(timeoutMs / 1000)} s`, `see isola compose ps and isola compose logs ${service}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** true: met; false: not yet; a string: never will (why). */
function meets(r: InstanceRecord, condition: DependsCondition): boolean | string {
  const life = lifeOf(r);
  switch (condition) {
    case 'service_started':
      return r.state === 'running' || r.state === 'exited' ? true : false;
    case 'service_completed_successfully':
      if (r.state !== 'exited') return false;
      return r.exitCode === 0 ? true : `${r.name} exited with status ${String(r.exitCode)}, and service_completed_successfully needs 0`;
    case 'service_healthy':
      if (!r.spec.health) return `${r.name} has no healthcheck, and service_healthy needs one`;
      if (r.state === 'exited' && life.restart === null) return `${r.name} exited (status ${String(r.exitCode)}) before it was healthy`;
      if (life.health?.status === 'unhealthy') return `${r.name} is unhealthy`;
      return life.health?.status === 'healthy';
  }
}

/**
 * Stops a replica and waits (at most 10 s) until what its run left behind has ended: its health
 * checker and the exit command its monitor runs (`isola _cleanup`). Started again while the old
 * run's exit command still ran, a health-checked container was seen to exit 255 at once (restart).
 */
export async function stopReplica(engine: Engine, id: string, timeoutSec?: number): Promise<void> {
  const rec = await engine.stop(id, timeoutSec);
  const checker = lifeOf(rec).health?.checker ?? null;
  const deadline = Date.now() + 10_000;
  const busy = () => (checker !== null && processAlive(checker, { cmdlineIncludes: '_health' })) || findProcesses(['_cleanup', id]).length > 0;
  while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/** `compose down`: every instance of the project, then its networks; with `volumes`, its named volumes. */
export async function down(engine: Engine, model: StackModel, o: { volumes: boolean; out: Writable }): Promise<void> {
  await engine.reconcile();
  for (const s of model.services.filter((x) => frontPorts(x).length > 0)) await syncFront(engine, model.project, s, []);
  const recs = stackInstances(engine, model.project);
  // Dependents first: the reverse of the start order, orphans first of all.
  const order = startOrder(model.services).map((s) => s.name).reverse();
  const rank = (r: InstanceRecord) => order.indexOf(serviceOf(r));
  for (const r of [...recs].sort((a, b) => rank(a) - rank(b))) {
    if (r.state === 'running') await engine.stop(r.id);
    await engine.remove(r.id, true, o.volumes);
    o.out.write(`Instance ${r.name} Removed\n`);
  }
  for (const n of model.networks.filter((x) => !x.external)) {
    if (!engine.networks.list().some((x) => x.name === n.name)) continue;
    await engine.networks.remove(n.name);
    o.out.write(`Network ${n.name} Removed\n`);
  }
  if (o.volumes) {
    for (const v of model.volumes.filter((x) => !x.external)) {
      try {
        engine.volumes.remove(v.name);
        o.out.write(`Volume ${v.name} Removed\n`);
      } catch (e) {
        if (!isIsolaError(e, 'NOT_FOUND')) throw e;
      }
    }
  }
}

/** The replicas a verb names: all of the stack, or those of the services named (each must exist). */
export function selectInstances(engine: Engine, model: StackModel, services: readonly string[]): InstanceRecord[] {
  for (const s of services) {
    if (!model.services.some((x) => x.name === s)) throw invalid(`no such service "${s}" in ${model.file}`, `name one of: ${model.services.map((x) => x.name).join(', ')}`);
  }
  return stackInstances(engine, model.project).filter((r) => services.length === 0 || services.includes(serviceOf(r)));
}

/** A scratch folder for one build, named after this process (system prune removes a killed one's). */
export function buildScratch(engine: Engine): string {
  const dir = path.join(engine.paths.tmp, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
