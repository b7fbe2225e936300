/**
 * The A/B(/C...) runner: warm-up rounds that are not counted, then rounds in which every arm
 * runs once, in the same order (A B C, A B C, ...), so that drift of the machine (another
 * process, thermal state, page cache) hits every arm alike and run i of A can be paired with
 * run i of B.
 */
export interface Arm<T> {
  name: string;
  /** One measurement; `round` counts from 0 over the counted rounds, -1.. for warm-up. */
  run(round: number): Promise<T>;
}

export interface AlternateOptions {
  warmup: number;
  runs: number;
  signal?: AbortSignal;
  onRound?: (done: number, total: number) => void;
}

export class Aborted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Aborted';
  }
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new Aborted();
}

export async function alternate<T>(arms: readonly Arm<T>[], opts: AlternateOptions): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(arms.map((a) => [a.name, []]));
  const total = opts.warmup + opts.runs;
  for (let r = 0; r < total; r++) {
    const counted = r >= opts.warmup;
    for (const arm of arms) {
      throwIfAborted(opts.signal);
      const v = await arm.run(r - opts.warmup);
      if (counted) out.get(arm.name)?.push(v);
    }
    opts.onRound?.(r + 1, total);
  }
  return out;
}
