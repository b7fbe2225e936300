import type { Command } from 'commander';
import { collect, withEngine, type CliContext } from './context.js';
import { ExitWith } from './exit-codes.js';
import { DEFAULT_DETACH_KEYS } from './detach-keys.js';
import { clientTerminal, openClient } from './terminal.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description('run a command inside a running instance; exits with the command\'s status')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user[:group]>', 'user to run as')
    .option('-i, --interactive', 'keep stdin open and pass it to the command')
    .option('-t, --tty', 'run the command on a pseudo-terminal (its stdout and stderr become one stream)')
    .argument('<instance>')
    .argument('<command...>')
    .passThroughOptions()
    .action(async (ref: string, argv: string[], o: { env: string[]; workdir?: string; user?: string; interactive?: boolean; tty?: boolean }) => {
      // The command's session ends with this client: there is no detaching from an exec.
      const client = openClient({ interactive: !!o.interactive, tty: !!o.tty, detachKeys: DEFAULT_DETACH_KEYS, detachable: false });
      let code: number;
      try {
        code = await withEngine(ctx, (e) =>
          e.exec(ref, argv, {
            env: o.env,
            ...(o.workdir ? { workdir: o.workdir } : {}),
            ...(o.user ? { user: o.user } : {}),
            stdin: client.stdin,
            stdout: process.stdout,
            stderr: process.stderr,
            ...(o.tty ? { tty: clientTerminal() } : {}),
          }),
        );
      } finally {
        client.close();
      }
      throw new ExitWith(code);
    });
}
