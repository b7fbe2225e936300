import { Engine } from '../engine/engine.js';
import { pathsFor } from '../paths.js';

/** Opens the engine for one command and always closes it. */
export async function withEngine<T>(fn: (engine: Engine) => Promise<T>, dataRoot?: string): Promise<T> {
  const engine = new Engine(pathsFor(dataRoot ?? undefined));
  try {
    return await fn(engine);
  } finally {
    engine.close();
  }
}

export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
