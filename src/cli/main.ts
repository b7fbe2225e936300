import { Command, CommanderError } from 'commander';
import { IsolaError } from '../spec/errors.js';
import { EXIT_ENGINE, exitCodeFor } from './exit-codes.js';
import { registerVerbs } from './verbs.js';

/** Thrown by verbs that want a specific exit status without an error message (the workload's). */
export class ExitWith extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('isola')
    .description('Run one OCI image as a container, a VM or a container inside a VM, and measure the difference.')
    .version(process.env.npm_package_version ?? '0.1.0', '-v, --version')
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .exitOverride();
  await registerVerbs(program, argv);
  // Every subcommand reports flag errors the same way: through exitOverride, to main().
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  if (e instanceof ExitWith) return e.status;
  if (e instanceof CommanderError) {
    // --help and --version end through here too, with exit code 0.
    if (e.exitCode === 0) return 0;
    return EXIT_ENGINE; // commander already printed "error: ..." with the fix (see --help)
  }
  if (e instanceof IsolaError) {
    process.stderr.write(`isola: ${e.oneLine()}\n`);
    if (process.env.ISOLA_DEBUG && e.cause) process.stderr.write(`cause: ${String((e.cause as Error).stack ?? e.cause)}\n`);
    return exitCodeFor(e.code);
  }
  const err = e as Error;
  process.stderr.write(`isola: internal error: ${err?.message ?? String(e)}; please report it with ISOLA_DEBUG=1 output\n`);
  if (process.env.ISOLA_DEBUG) process.stderr.write(`${err?.stack}\n`);
  return EXIT_ENGINE;
}
