import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { IsolaError } from '../core/errors.js';
import { processAlive, processRef } from '../util/process.js';
import { lifeOf, type HealthResult, type InstanceRecord } from '../state/instances.js';
import type { Engine } from './engine.js';
import { applyHealthResult, HEALTH_OUTPUT_MAX, healthArgv, nextProbeDelay, startingHealth } from './health.js';

/**
 * `isola _health ID SEQ`: the health checker of one run of one instance, a detached process
 * started with it (there is no daemon to run checks). It records itself (pid, start time, boot)
 * before its first wait, runs the check through the driver's exec (inside the VM for vm and
 * hybrid) every interval, keeps State.Health, records health_status events, and ends as soon as
 * that run is over; settle and rm end it too.
 */
export async function runHealthChecker(engine: Engine, id: string, runSeq: number): Promise<void> {
  const me = processRef(process.pid);
  if (!me) return;
  const mine = engine.instances.updateHealth(id, runSeq, (h) => {
    const cur = h ?? startingHealth();
    if (cur.checker && !(cur.checker.pid === me.pid && cur.checker.startTime === me.startTime) && processAlive(cur.checker, { cmdlineIncludes: '_health' })) return cur;
    return { ...cur, checker: me };
  });
  if (!mine || mine.checker?.pid !== me.pid) return; // another checker runs for this run
  let stopping = false;
  // Ended by settle or rm: at once (a check in flight ends with the instance anyway).
  process.once('SIGTERM', () => {
    stopping = true;
    process.exit(0);
  });
  for (;;) {
    let rec = engine.instances.get(id);
    if (stopping || !rec || rec.state !== 'running' || lifeOf(rec).runSeq !== runSeq || !rec.spec.health) return;
    const h = rec.spec.health;
    const state = lifeOf(rec).health ?? startingHealth();
    await interruptibleSleep(nextProbeDelay(state, h, rec.startedAt ?? new Date().toISOString()), () => stopping);
    rec = engine.instances.get(id);
    if (stopping || !rec || rec.state !== 'running' || lifeOf(rec).runSeq !== runSeq) return;
    if (lifeOf(rec).paused) continue; // a frozen workload cannot answer; Docker skips it too
    const result = await probe(engine, rec, healthArgv(h), h.timeoutMs);
    if (stopping) return;
    const before = lifeOf(rec).health?.status ?? 'starting';
    const startedAt = rec.startedAt ?? result.start;
    const after = engine.instances.updateHealth(id, runSeq, (cur) => applyHealthResult(cur ?? startingHealth(), h, result, startedAt));
    if (after && after.status !== before) engine.event(rec, `health_status: ${after.status}`);
  }
}

async function interruptibleSleep(ms: number, stop: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!stop() && Date.now() < end) await sleep(Math.min(250, end - Date.now()));
}

/** One check: exit 0 is healthy; past the timeout the command is killed and the result is -1, as Docker records it. */
async function probe(engine: Engine, rec: InstanceRecord, argv: string[], timeoutMs: number): Promise<HealthResult> {
  const start = new Date();
  let output = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (output.length < HEALTH_OUTPUT_MAX) output += chunk.toString();
      cb();
    },
  });
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  let exitCode: number;
  try {
    exitCode = await engine.driver(rec.kind).exec(rec.spec, rec.data, argv, { stdout: sink, stderr: sink, stdin: null, signal: ac.signal });
    if (ac.signal.aborted) {
      exitCode = -1;
      output = `Health check exceeded timeout (${timeoutMs / 1000}s)`;
    }
  } catch (e) {
    exitCode = e instanceof IsolaError && e.code === 'COMMAND_NOT_FOUND' ? 127 : e instanceof IsolaError && e.code === 'CANNOT_INVOKE' ? 126 : -1;
    output = e instanceof IsolaError ? e.oneLine() : String(e);
  } finally {
    clearTimeout(timer);
  }
  return { start: start.toISOString(), end: new Date().toISOString(), exitCode, output: output.slice(0, HEALTH_OUTPUT_MAX) };
}
