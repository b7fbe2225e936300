import { Engine } from '../engine/engine.js';
import { withRoot, type Config } from '../core/config.js';

/** What every verb is registered with: the configuration main() read once from the environment. */
export interface CliContext {
  config: Config;
}

/** Opens the engine for one command and always closes it; `dataRoot` overrides the configured root. */
export async function withEngine<T>(ctx: CliContext, fn: (engine: Engine) => Promise<T>, dataRoot?: string): Promise<T> {
  const engine = new Engine(dataRoot ? withRoot(ctx.config, dataRoot) : ctx.config);
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
