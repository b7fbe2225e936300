import type { Writable } from 'node:stream';
import { IsolaError, invalid } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { RevisionRepo, type RevisionRecord } from '../state/revisions.js';
import { numberOf, serviceOf, stackInstances, up } from './apply.js';
import type { ServiceModel, StackModel } from './model.js';
import { recoverRollouts, withRolloutLock } from './recover.js';

/** A service's revisions, oldest first; one line when the file has no such service and none were kept. */
export function revisionsOf(engine: Engine, model: StackModel, service: string): RevisionRecord[] {
  const revs = new RevisionRepo(engine.db).list(model.project, service);
  if (revs.length === 0 && !model.services.some((s) => s.name === service)) {
    throw invalid(`no such service "${service}" in ${model.file}`, `name one of: ${model.services.map((s) => s.name).join(', ')}`);
  }
  return revs;
}

/**
 * `compose rollback SERVICE`: the service made again from the revision before its latest one,
 * rolled as an update is (which records it as a new revision: a second rollback goes forward again).
 * Refused in one line, with nothing touched, when there is no previous revision or its image is gone.
 */
export async function rollback(engine: Engine, model: StackModel, service: string, o: { parallelism: number; waitMs: number; out: Writable }): Promise<RevisionRecord> {
  return withRolloutLock(engine, model.project, async () => {
    await recoverRollouts(engine, model.project, o.out);
    return rollbackLocked(engine, model, service, o);
  });
}

async function rollbackLocked(engine: Engine, model: StackModel, service: string, o: { parallelism: number; waitMs: number; out: Writable }): Promise<RevisionRecord> {
  await engine.reconcile();
  const revs = revisionsOf(engine, model, service);
  const prev = revs[revs.length - 2];
  const cur = revs[revs.length - 1];
  if (!prev || !cur) throw new IsolaError('FAILED_PRECONDITION', `service ${service} has no previous revision to roll back to (${revs.length} revision${revs.length === 1 ? '' : 's'} kept)`, `list them with isola compose revisions ${service}`);
  let digest: string;
  try {
    digest = (await engine.resolveImage(prev.imageRef)).digest;
  } catch {
    digest = '';
  }
  if (digest !== prev.imageDigest) {
    throw new IsolaError('FAILED_PRECONDITION', `revision ${prev.seq} of ${service} ran ${prev.imageRef}@${prev.imageDigest}, which ${digest ? `${prev.imageRef} no longer names (now ${digest})` : 'is no longer stored'}`, `tag that image as ${prev.imageRef} again (isola tag), then run isola compose rollback ${service}`);
  }
  const svc = JSON.parse(prev.serviceJson) as ServiceModel;
  const running = stackInstances(engine, model.project).filter((r) => serviceOf(r) === service);
  const replicas = running.length > 0 ? Math.max(...running.map(numberOf)) : svc.replicas;
  const target: StackModel = { ...model, services: model.services.some((s) => s.name === service) ? model.services.map((s) => (s.name === service ? svc : s)) : [...model.services, svc] };
  o.out.write(`Service ${service} Rolling back from revision ${cur.seq} to revision ${prev.seq}\n`);
  await up(engine, target, new Map([[service, prev.imageDigest]]), { scale: new Map([[service, replicas]]), noStart: false, removeOrphans: false, out: o.out, waitMs: o.waitMs, parallelism: o.parallelism, only: service });
  const now = new RevisionRepo(engine.db).latest(model.project, service);
  if (!now) throw new Error('revision not recorded');
  return now;
}
