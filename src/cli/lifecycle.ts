import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { pathsFor } from '../core/paths.js';
import { withEngine, type CliContext } from './context.js';
import { invalid } from '../core/errors.js';
import { ExitWith } from './exit-codes.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('stop')
    .description('stop running instances: SIGTERM, then SIGKILL after the timeout')
    .option('-t, --time <seconds>', 'seconds to wait before killing', '10')
    .argument('<instance...>')
    .action(async (refs: string[], o: { time: string }) => {
      const t = Number(o.time);
      if (!Number.isFinite(t) || t < 0) throw invalid(`invalid --time "${o.time}"`, 'use a number of seconds, e.g. -t 5');
      await withEngine(ctx, async (e) => {
        for (const ref of refs) {
          await e.stop(ref, t);
          process.stdout.write(`${ref}\n`);
        }
      });
    });

  program
    .command('kill')
    .description('send a signal to running instances')
    .option('-s, --signal <signal>', 'signal to send', 'KILL')
    .argument('<instance...>')
    .action(async (refs: string[], o: { signal: string }) => {
      await withEngine(ctx, async (e) => {
        for (const ref of refs) {
          await e.kill(ref, o.signal);
          process.stdout.write(`${ref}\n`);
        }
      });
    });

  program
    .command('rm')
    .description('remove instances (and everything they left on the host)')
    .option('-f, --force', 'kill running instances first')
    .option('-v, --volumes', 'also remove the instance\'s anonymous volumes (named volumes stay)')
    .argument('<instance...>')
    .action(async (refs: string[], o: { force?: boolean; volumes?: boolean }) => {
      await withEngine(ctx, async (e) => {
        for (const ref of refs) {
          await e.remove(ref, !!o.force, !!o.volumes);
          process.stdout.write(`${ref}\n`);
        }
      });
    });

  program
    .command('wait')
    .description('wait for an instance to exit and print its exit status')
    .argument('<instance>')
    .action(async (ref: string) => {
      const code = await withEngine(ctx, async (e) => {
        for (;;) {
          await e.reconcile();
          const rec = e.find(ref);
          if (rec.state === 'exited') return rec.exitCode ?? 255;
          await sleep(100);
        }
      });
      process.stdout.write(`${code}\n`);
    });

  program
    .command('_cleanup', { hidden: true })
    .description('internal: run by the monitor when an instance exits')
    .option('--data-root <dir>')
    .argument('<id>')
    .action(async (id: string, o: { dataRoot?: string }) => {
      // The data root may be gone by the time a monitor reports (a test removed it): then there
      // is nothing to record, and opening the engine would create an empty root again.
      if (!fs.existsSync(pathsFor(o.dataRoot ?? ctx.config.root).db)) throw new ExitWith(0);
      await withEngine(ctx, (e) => e.cleanupInstance(id), o.dataRoot);
      throw new ExitWith(0);
    });
}
