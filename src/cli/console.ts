import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAppended } from '../util/tail.js';
import { withEngine, type CliContext } from './context.js';
import { IsolaError } from '../core/errors.js';
import { processAlive } from '../util/process.js';

/**
 * `isola console NAME`: the serial console of a VM (kernel and init messages), which is kept
 * apart from the workload's own output (`isola logs`). Drivers that boot a guest put the path
 * in their data as `consoleLog`; a container has no console.
 */
export function consolePath(data: Record<string, unknown>): string | null {
  const p = data.consoleLog;
  return typeof p === 'string' ? p : null;
}


export function register(program: Command, ctx: CliContext): void {
  program
    .command('console')
    .description('print the serial console of a VM (kernel and init messages)')
    .option('-f, --follow', 'keep printing until the VM stops')
    .argument('<instance>')
    .action(async (ref: string, o: { follow?: boolean }) => {
      const rec = await withEngine(ctx, async (e) => {
        await e.reconcile();
        return e.find(ref);
      });
      const file = consolePath(rec.data);
      if (!file) throw new IsolaError('FAILED_PRECONDITION', `${rec.name} is a ${rec.kind} and has no serial console`, 'use isola logs for its output; console is for --as vm and --as hybrid');
      let offset = 0;
      const pump = (): void => {
        const got = readAppended(file, offset);
        offset = got.offset;
        if (got.data.length > 0) process.stdout.write(got.data);
      };
      pump();
      if (!o.follow) return;
      let stop = false;
      const onInt = (): void => {
        stop = true;
      };
      process.once('SIGINT', onInt);
      try {
        while (!stop && rec.state === 'running' && processAlive(typeof rec.data.pid === 'number' ? rec.data.pid : null)) {
          await sleep(100);
          pump();
        }
        pump();
      } finally {
        process.off('SIGINT', onInt);
      }
    });
}
