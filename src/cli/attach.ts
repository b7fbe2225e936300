import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { ExitWith } from './exit-codes.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from './detach-keys.js';
import { openClient } from './terminal.js';

/**
 * `isola attach INSTANCE`: isola's stdin, stdout and terminal joined to a running instance's
 * streams, as `docker attach` does: output from now on (earlier output is in `logs`), input
 * when the instance keeps its stdin open (-i), the window size with a tty (-t). The detach keys
 * leave it running; otherwise it exits with the workload's status.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('attach')
    .description('attach to a running instance\'s terminal or streams (detach with Ctrl-P Ctrl-Q)')
    .option('--detach-keys <keys>', `keys that detach, leaving the instance running (default ${DEFAULT_DETACH_KEYS})`)
    .option('--no-stdin', 'do not pass isola\'s stdin to the instance')
    .argument('<instance>')
    .action(async (ref: string, o: { detachKeys?: string; stdin: boolean }) => {
      if (o.detachKeys !== undefined) parseDetachKeys(o.detachKeys);
      const result = await withEngine(ctx, async (e) => {
        await e.reconcile();
        const spec = e.find(ref).spec;
        const client = openClient({
          interactive: o.stdin && spec.stdinOpen === true,
          tty: spec.tty === true,
          detachKeys: o.detachKeys ?? DEFAULT_DETACH_KEYS,
          detachable: true,
        });
        try {
          return await e.attach(ref, client);
        } finally {
          client.close();
        }
      });
      if (result.exitCode !== null) throw new ExitWith(result.exitCode);
    });
}
