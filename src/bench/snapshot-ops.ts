import type { Kind } from '../core/types.js';
import type { Engine } from '../engine/engine.js';
import { createSnapshot, removeSnapshot, restoreSnapshot } from '../engine/snapshots.js';
import type { Summary } from '../core/compare-result.js';
import { summarize } from './stats.js';

/**
 * Time to snapshot and to restore one instance, `runs` times (for `compare --ops`, the common
 * comparison's operations table: "VMs roll back from snapshots"). The instance is the caller's,
 * stopped (restore needs it stopped) and with the disk or layer it wants measured; each run takes
 * a snapshot, restores it and removes it, so the instance ends as it began. Wall-clock times of the
 * engine calls, as a user of the CLI waits for them (less the CLI's own start-up).
 */
export interface SnapshotOpTimes {
  kind: Kind;
  snapshotMs: number[];
  restoreMs: number[];
  snapshot: Summary;
  restore: Summary;
}

export async function measureSnapshotOps(engine: Engine, ref: string, runs: number): Promise<SnapshotOpTimes> {
  const kind = engine.find(ref).kind;
  const snapshotMs: number[] = [];
  const restoreMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const name = `bench-${process.pid}-${i}`;
    const t0 = performance.now();
    await createSnapshot(engine, ref, name);
    const t1 = performance.now();
    try {
      await restoreSnapshot(engine, ref, name);
      restoreMs.push(performance.now() - t1);
      snapshotMs.push(t1 - t0);
    } finally {
      await removeSnapshot(engine, ref, name);
    }
  }
  return { kind, snapshotMs, restoreMs, snapshot: summarize(snapshotMs), restore: summarize(restoreMs) };
}
