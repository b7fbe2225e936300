import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Engine } from '../engine/engine.js';
import { lifeOf, type InstanceRecord } from '../state/instances.js';
import { lockHeld, withLock } from '../util/lock.js';
import { stackInstances, stopReplica } from './apply.js';
import { frontPorts, runningTargets, syncFront } from './front.js';
import type { StackModel } from './model.js';
import { LABEL } from './plan.js';

/**
 * A rollout killed half-way (docs/RELIABILITY.md, "Compose rollouts"). Every step of a rollout is
 * recorded in the state database before the next one waits on anything: the old replica is
 * renamed aside (`<its id's first 12>_<replica name>`, still labelled with its stack, service and
 * number) before the new one is made under the replica's name, the new one is recorded by the
 * engine's create before it starts, and an old one is removed only once the whole up succeeded.
 * So the names alone say how far it got, and the next `compose up`, `compose ps` or `system prune`
 * puts each replica number in one state again:
 *  - the new replica exists and is ready (running, and healthy when it has a healthcheck): the
 *    rollout of that number is finished (the old one stopped and removed);
 *  - else it is undone (the new one, if any, removed; the old one renamed back, left as it is).
 * A rollout in progress holds the stack's rollout lock (src/util/lock.ts): recovery runs only
 * under that lock, or where no live process holds it, never under a live rollout.
 */
const ASIDE = /^([0-9a-f]{12})_(.+)$/;

/** The old replica's name before it was set aside, when it was (`<id12>_<name>`). */
export function asideOf(r: InstanceRecord): string | undefined {
  const m = ASIDE.exec(r.name);
  return m && m[1] === r.id.slice(0, 12) ? m[2] : undefined;
}

export function rolloutLockDir(engine: Engine, project: string): string {
  return path.join(engine.paths.run, `compose-rollout-${project}`);
}

/** Runs fn holding the stack's rollout lock (compose up, compose rollback). */
export async function withRolloutLock<T>(engine: Engine, project: string, fn: () => Promise<T>, timeoutMs?: number): Promise<T> {
  fs.mkdirSync(engine.paths.run, { recursive: true });
  return withLock(rolloutLockDir(engine, project), fn, timeoutMs !== undefined ? { timeoutMs } : {});
}

export function rolloutInProgress(engine: Engine, project: string): boolean {
  return lockHeld(rolloutLockDir(engine, project));
}

function ready(r: InstanceRecord): boolean {
  if (r.state !== 'running') return false;
  return !r.spec.health || lifeOf(r).health?.status === 'healthy';
}

/**
 * Finishes or undoes what a killed rollout left in one stack; the caller holds the rollout lock,
 * or saw that no live process does. Resolves with the services it touched.
 */
export async function recoverRollouts(engine: Engine, project: string, out: Writable): Promise<string[]> {
  await engine.reconcile();
  const touched = new Set<string>();
  const recs = stackInstances(engine, project);
  for (const old of recs) {
    const name = asideOf(old);
    if (name === undefined) continue;
    const service = old.spec.labels?.[LABEL.service] ?? '';
    touched.add(service);
    const fresh = recs.find((r) => r.name === name && r.id !== old.id);
    if (fresh && ready(fresh)) {
      if (old.state === 'running') await stopReplica(engine, old.id);
      await engine.remove(old.id, true);
      out.write(`Instance ${name} Updated (an interrupted rollout finished)\n`);
    } else {
      if (fresh) await engine.remove(fresh.id, true);
      await engine.rename(old.id, name);
      out.write(`Instance ${name} Restored (an interrupted rollout undone)\n`);
    }
  }
  return [...touched];
}

/** Every stack with a replica set aside: what `system prune` recovers (those no live rollout holds). */
export function projectsWithAside(engine: Engine): string[] {
  const out = new Set<string>();
  for (const r of engine.instances.list()) {
    const p = r.spec.labels?.[LABEL.project];
    if (p && asideOf(r) !== undefined) out.add(p);
  }
  return [...out];
}

/**
 * What `compose ps` and `system prune` do: recover the stack unless a live rollout holds it (then
 * it is left as it is: that rollout finishes or undoes it itself); with the stack's model, the
 * fixed ports of the services touched are pointed at their running replicas again.
 */
export async function recoverIfIdle(engine: Engine, project: string, out: Writable, model?: StackModel): Promise<string[]> {
  if (rolloutInProgress(engine, project)) return [];
  return withRolloutLock(engine, project, async () => {
    const touched = await recoverRollouts(engine, project, out);
    for (const s of model?.services ?? []) {
      if (touched.includes(s.name) && frontPorts(s).length > 0) await syncFront(engine, project, s, runningTargets(engine, project, s.name));
    }
    return touched;
  }, 30_000);
}
