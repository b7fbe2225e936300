import type { Command } from 'commander';
import { collect, withEngine, type CliContext } from './context.js';
import { ExitWith } from './exit-codes.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description('run a command inside a running instance; exits with the command\'s status')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user[:group]>', 'user to run as')
    .option('-i, --interactive', 'keep stdin open and pass it to the command')
    .argument('<instance>')
    .argument('<command...>')
    .passThroughOptions()
    .action(async (ref: string, argv: string[], o: { env: string[]; workdir?: string; user?: string; interactive?: boolean }) => {
      const code = await withEngine(ctx, (e) =>
        e.exec(ref, argv, {
          env: o.env,
          ...(o.workdir ? { workdir: o.workdir } : {}),
          ...(o.user ? { user: o.user } : {}),
          stdin: o.interactive ? process.stdin : null,
          stdout: process.stdout,
          stderr: process.stderr,
        }),
      );
      throw new ExitWith(code);
    });
}
