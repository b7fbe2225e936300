import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kind } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import { down, serviceOf, stackInstances, up } from '../../compose/apply.js';
import { rollback } from '../../compose/rollback.js';
import { loadStack } from '../../compose/stack.js';
import type { StackModel } from '../../compose/model.js';
import { RevisionRepo } from '../../state/revisions.js';
import { throwIfAborted } from '../alternate.js';

/**
 * The common comparison's operations table as figures (compare --ops): a compose service of one
 * kind, scaled out, updated and rolled back through the same code as `isola compose up` and
 * `isola compose rollback`, timed as a user waits for them (less the CLI's own start-up).
 * Per run, on a fresh stack:
 *  - scale: `up` from 1 replica to `replicas`, until every replica is running (the service has no
 *    healthcheck, so running is ready, as compose waits for it);
 *  - update: `up` after the service's configuration changed (its REVISION variable), which rolls
 *    every replica as a new image would: each new replica running before an old one stops;
 *  - rollback: `compose rollback` to the previous revision, rolled the same way.
 * The stack is taken down after each run, whatever happened.
 */
export interface OpsRunPlan {
  replicas: number;
  runs: number;
  /** How long a new replica may take to be ready before the rollout is undone (ms). */
  waitMs: number;
}

export interface OpsTimes {
  scaleMs: number[];
  updateMs: number[];
  rollbackMs: number[];
}

/**
 * The replicas' workload: idle, and ending at once on SIGTERM. A bare `sleep` as the first process
 * ignores SIGTERM, so every stop would wait out the 10 s grace period and the timings would be
 * that wait.
 */
export const IDLE_ARGV: readonly string[] = ['sh', '-c', 'trap "exit 0" TERM; sleep 86400 & wait'];

/** The compose file of the measured stack: one service, `kind`, the image's sleep, a revision variable. */
export function opsComposeText(image: string, kind: Kind, revision: number): string {
  return [
    'services:',
    '  web:',
    `    image: ${JSON.stringify(image)}`,
    `    command: ${JSON.stringify(IDLE_ARGV)}`,
    `    x-isola-kind: ${kind}`,
    '    environment:',
    `      REVISION: "${revision}"`,
    '',
  ].join('\n');
}

function lineSink(step: (s: string) => void, prefix: string): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) step(`${prefix}: ${line}`);
      cb();
    },
  });
}

function running(engine: Engine, model: StackModel): number {
  return stackInstances(engine, model.project).filter((r) => serviceOf(r) === 'web' && r.state === 'running').length;
}

export async function opsRuns(engine: Engine, kind: Kind, image: { ref: string; digest: string }, plan: OpsRunPlan, o: { dir: string; step: (s: string) => void; signal: AbortSignal }): Promise<OpsTimes> {
  const out: OpsTimes = { scaleMs: [], updateMs: [], rollbackMs: [] };
  const digests = new Map([['web', image.digest]]);
  const scale = (n: number) => new Map([['web', n]]);
  for (let i = 0; i < plan.runs; i++) {
    throwIfAborted(o.signal);
    const dir = path.join(o.dir, `${kind}-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'compose.yaml');
    const load = (rev: number): StackModel => {
      fs.writeFileSync(file, opsComposeText(image.ref, kind, rev));
      return loadStack({ file, project: `cmpops-${process.pid}-${kind}-${i}`, profiles: [], cwd: dir, env: {} });
    };
    const tag = `operations, ${kind}, run ${i + 1}/${plan.runs}`;
    const sink = lineSink(o.step, tag);
    const first = load(1);
    try {
      await up(engine, first, digests, { scale: scale(1), noStart: false, removeOrphans: false, out: sink, waitMs: plan.waitMs });
      throwIfAborted(o.signal);
      let t0 = performance.now();
      await up(engine, first, digests, { scale: scale(plan.replicas), noStart: false, removeOrphans: false, out: sink, waitMs: plan.waitMs });
      const scaleMs = performance.now() - t0;
      const n = running(engine, first);
      if (n !== plan.replicas) throw new IsolaError('INTERNAL', `${kind} service scaled to ${plan.replicas} replicas has ${n} running`);
      throwIfAborted(o.signal);
      const second = load(2);
      t0 = performance.now();
      await up(engine, second, digests, { scale: scale(plan.replicas), noStart: false, removeOrphans: false, out: sink, waitMs: plan.waitMs });
      const updateMs = performance.now() - t0;
      throwIfAborted(o.signal);
      t0 = performance.now();
      await rollback(engine, second, 'web', { parallelism: 1, waitMs: plan.waitMs, out: sink });
      const rollbackMs = performance.now() - t0;
      if (running(engine, second) !== plan.replicas) throw new IsolaError('INTERNAL', `${kind} service rolled back has ${running(engine, second)} of ${plan.replicas} replicas running`);
      out.scaleMs.push(scaleMs);
      out.updateMs.push(updateMs);
      out.rollbackMs.push(rollbackMs);
    } finally {
      o.step(`${tag}: taking the stack down`);
      await down(engine, first, { volumes: true, out: sink }).catch(() => undefined);
      new RevisionRepo(engine.db).forget(first.project);
    }
  }
  return out;
}
