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

/** Parses argv, runs the verb, and turns what it threw into a one-line message and an exit status. */
export async function runProgram(argv: string[]): Promise<number> {
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
