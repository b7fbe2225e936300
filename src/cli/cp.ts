import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { parseCopyEnd } from '../engine/copy.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('cp')
    .description('copy files or folders between a running instance and the host, as docker cp (INSTANCE:PATH on one side; - is a tar on stdin or stdout)')
    .argument('<src>', 'INSTANCE:PATH, a host path, or - (a tar on stdin)')
    .argument('<dest>', 'INSTANCE:PATH, a host path, or - (a tar on stdout)')
    .option('-a, --archive', 'keep owners (uid:gid) as they are at the source; without it the copies are owned by root')
    .option('-L, --follow-link', 'follow a symlink the source path names')
    .action(async (src: string, dest: string, o: { archive?: boolean; followLink?: boolean }) => {
      await withEngine(ctx, (e) => e.copy(parseCopyEnd(src), parseCopyEnd(dest), { archive: !!o.archive, follow: !!o.followLink }, { stdin: process.stdin, stdout: process.stdout }));
    });
}
