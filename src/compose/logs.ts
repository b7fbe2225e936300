import type { Engine } from '../engine/engine.js';
import type { InstanceRecord } from '../state/instances.js';
import { replicaName } from './apply.js';

/**
 * The output of several replicas, each line prefixed with its replica's name padded to the widest
 * (`web-1  | ...`), as Compose prints them; with `follow`, until each has exited or `signal` aborts.
 * Lines of one replica keep their order; replicas interleave as their lines come.
 */
export async function prefixedLogs(engine: Engine, recs: readonly InstanceRecord[], o: { follow: boolean; tail: number; signal: AbortSignal; write(stream: 'stdout' | 'stderr', text: string): void }): Promise<void> {
  const width = Math.max(0, ...recs.map((r) => replicaName(r).length));
  await Promise.all(recs.map(async (r) => {
    const prefix = `${replicaName(r).padEnd(width)} | `;
    const buffered: { stream: 'stdout' | 'stderr'; text: string }[] = [];
    const live = !Number.isFinite(o.tail);
    let partial = false;
    const emit = (stream: 'stdout' | 'stderr', text: string) => {
      if (live) o.write(stream, text);
      else {
        buffered.push({ stream, text });
        if (buffered.length > o.tail) buffered.shift();
      }
    };
    try {
      for await (const e of engine.logs(r, o.follow && r.state === 'running', o.signal)) {
        emit(e.stream, `${partial ? '' : prefix}${e.text}${e.partial ? '' : '\n'}`);
        partial = e.partial;
      }
    } catch (e) {
      if (!o.signal.aborted) throw e;
    }
    for (const b of buffered) o.write(b.stream, b.text);
  }));
}
