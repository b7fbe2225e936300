/**
 * Rolling update of one service (docs/COMPOSE.md, "Update and rollback"): its replicas replaced
 * a few at a time. Per replica number: the old replica is renamed aside (still serving), the new
 * one is made under the name and started, and once it is ready (healthy with a healthcheck,
 * running without) the old one is stopped. Old replicas are removed only when the whole `up`
 * succeeded; if a new replica fails, every new replica of the rollout is removed and the old ones
 * are put back (renamed and started again), so the service runs its previous revision.
 */

/** One step of a rollout: replica numbers replaced together (at most --parallelism of them). */
export interface RolloutBatch {
  /** Numbers with an old replica to replace. */
  replace: number[];
  /** Numbers with no replica yet (a scale-up in the same up): only made. */
  create: number[];
}

/** The batches, in replica order: `parallelism` numbers each (at least 1). */
export function planRollout(replace: readonly number[], create: readonly number[], parallelism: number): RolloutBatch[] {
  const p = Math.max(1, Math.floor(parallelism));
  const all = [...replace.map((n) => ({ n, old: true })), ...create.map((n) => ({ n, old: false }))].sort((a, b) => a.n - b.n);
  const out: RolloutBatch[] = [];
  for (let i = 0; i < all.length; i += p) {
    const chunk = all.slice(i, i + p);
    out.push({ replace: chunk.filter((c) => c.old).map((c) => c.n), create: chunk.filter((c) => !c.old).map((c) => c.n) });
  }
  return out;
}

/** What a rollout does to the host, one replica number at a time (the engine's, or a test's). */
export interface RolloutOps {
  /** Renames old replica n aside; it keeps running. */
  asideOld(n: number): Promise<void>;
  /** Makes and starts the new replica n. */
  startNew(n: number): Promise<void>;
  /** Resolves once new replica n is ready; rejects with a RolloutFailure when it never will be. */
  waitReady(n: number): Promise<void>;
  /** Stops old replica n (it stays, aside, until the rollout is committed). */
  stopOld(n: number): Promise<void>;
  /** Removes new replica n (undo). */
  removeNew(n: number): Promise<void>;
  /** Renames old replica n back and starts it again when it was stopped (undo). */
  restoreOld(n: number, stopped: boolean): Promise<void>;
  /** Removes old replica n (commit). */
  removeOld(n: number): Promise<void>;
}

/** A new replica that did not become ready: which and why. */
export class RolloutFailure extends Error {
  constructor(readonly replica: number, readonly reason: string) {
    super(`replica ${replica} ${reason}`);
  }
}

/** Undo (newest first) and commit steps of a rollout that went through, for the caller's up to run. */
export interface RolloutResult {
  undo: (() => Promise<void>)[];
  commit: (() => Promise<void>)[];
}

/**
 * Runs the batches. On success, resolves with how to undo it (a later service of the same up
 * failed) and how to commit it. On failure, undoes what it did itself, then rethrows.
 */
export async function runRollout(batches: readonly RolloutBatch[], ops: RolloutOps): Promise<RolloutResult> {
  const undo: (() => Promise<void>)[] = [];
  const commit: (() => Promise<void>)[] = [];
  // Per number: whether this rollout stopped the old replica (the undo restarts only those).
  const stoppers = new Map<number, { stopped: boolean }>();
  try {
    for (const b of batches) {
      for (const n of b.replace) {
        await ops.asideOld(n);
        const state = { stopped: false };
        undo.push(() => ops.restoreOld(n, state.stopped));
        commit.push(() => ops.removeOld(n));
        await ops.startNew(n);
        undo.push(() => ops.removeNew(n));
        stoppers.set(n, state);
      }
      for (const n of b.create) {
        await ops.startNew(n);
        undo.push(() => ops.removeNew(n));
      }
      for (const n of [...b.replace, ...b.create].sort((x, y) => x - y)) await ops.waitReady(n);
      for (const n of b.replace) {
        await ops.stopOld(n);
        const s = stoppers.get(n);
        if (s) s.stopped = true;
      }
    }
  } catch (e) {
    for (const u of [...undo].reverse()) await u().catch(() => undefined);
    throw e;
  }
  return { undo, commit };
}
