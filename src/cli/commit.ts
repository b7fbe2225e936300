import type { Command } from 'commander';
import { collect, withEngine, type CliContext } from './context.js';
import { invalid } from '../core/errors.js';
import { commitInstance } from '../engine/commit.js';
import { COMMIT_CHANGES } from '../image/commit.js';

/** Docker's `--pause` is a boolean that defaults to true: `-p=false` / `--pause=false` turns it off. */
function parseBool(v: string): boolean {
  if (/^(true|1)$/i.test(v)) return true;
  if (/^(false|0)$/i.test(v)) return false;
  throw invalid(`--pause takes true or false, not "${v}"`, 'write --pause=false to commit without freezing the instance');
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('commit')
    .description('make an image of a container\'s changes (its writable layer on top of its image), as docker commit')
    .argument('<instance>')
    .argument('[repository]', 'name[:tag] of the new image (default: <instance>-commit:latest)')
    .option('-m, --message <text>', 'commit message (the history entry\'s comment)')
    .option('-a, --author <name>', 'author of the image (for example "Jane <jane@example.com>")')
    .option('-c, --change <instruction>', `a Dockerfile instruction to apply to the image config (${COMMIT_CHANGES.join(', ')}); repeatable`, collect, [])
    .option('-p, --pause [bool]', 'freeze a running instance while its changes are read (default true)', parseBool, true)
    .action(async (ref: string, repository: string | undefined, o: { message?: string; author?: string; change: string[]; pause: boolean }) => {
      const out = await withEngine(ctx, (e) => commitInstance(e, ref, {
        changes: o.change, pause: o.pause,
        ...(repository !== undefined ? { ref: repository } : {}),
        ...(o.message !== undefined ? { message: o.message } : {}),
        ...(o.author !== undefined ? { author: o.author } : {}),
      }));
      process.stdout.write(`${out.digest}\n`);
    });
}
