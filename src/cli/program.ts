import { Command, CommanderError } from 'commander';
import { IsolaError } from '../core/errors.js';
import { EXIT_ENGINE, ExitWith, exitCodeFor } from './exit-codes.js';
import { registerVerbs } from './verbs.js';
import { loadConfig, type Config } from '../core/config.js';
import { VERSION } from './version.js';

export async function buildProgram(config: Config, argv: string[] = []): Promise<Command> {
  const program = new Command('isola')
    .description('Run one OCI image as a container, a VM or a container inside a VM, and measure the difference.')
    .version(VERSION, '-v, --version')
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .exitOverride();
  await registerVerbs(program, { config }, argv);
  // Every subcommand reports flag errors the same way: through exitOverride, to main().
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * A reader that goes away (`isola run ... | head`) closes the pipe: what isola would write to it
 * is dropped from then on, as it would be by a terminal that closed, while the verb finishes its
 * work (a foreground run still waits for its instance and removes it with --rm). Without this
 * Node throws EPIPE out of the next write.
 */
export function dropWritesAfterEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stream.write = ((_chunk: unknown, ...rest: unknown[]) => {
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof stream.write;
  });
}

/** Parses argv, runs the verb, and turns what it threw into a one-line message and an exit status. */
export async function runProgram(argv: string[]): Promise<number> {
  dropWritesAfterEpipe(process.stdout);
  dropWritesAfterEpipe(process.stderr);
  let debug = false;
  try {
    const config = loadConfig();
    debug = config.debug;
    const program = await buildProgram(config, argv);
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return report(e, debug);
  }
}

function report(e: unknown, debug: boolean): number {
  if (e instanceof ExitWith) return e.status;
  if (e instanceof CommanderError) {
    // --help and --version end through here too, with exit code 0.
    if (e.exitCode === 0) return 0;
    return EXIT_ENGINE; // commander already printed "error: ..." with the fix (see --help)
  }
  if (e instanceof IsolaError) {
    process.stderr.write(`isola: ${e.oneLine()}\n`);
    if (debug && e.cause) process.stderr.write(`cause: ${String((e.cause as Error).stack ?? e.cause)}\n`);
    return exitCodeFor(e.code);
  }
  const err = e as Error;
  process.stderr.write(`isola: internal error: ${err?.message ?? String(e)}; please report it with ISOLA_DEBUG=1 output\n`);
  if (debug) process.stderr.write(`${err?.stack}\n`);
  return EXIT_ENGINE;
}
