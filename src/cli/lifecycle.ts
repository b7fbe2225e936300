import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { pathsFor } from '../core/paths.js';
import { withEngine, type CliContext } from './context.js';
import { invalid } from '../core/errors.js';
import { ExitWith } from './exit-codes.js';
import { eachRef } from './each-ref.js';

export function register(program: Command, ctx: CliContext): void {
  const seconds = (text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const t = Number(text);
    if (!Number.isFinite(t) || t < 0) throw invalid(`invalid --time "${text}"`, 'use a number of seconds, e.g. -t 5');
    return t;
  };

  program
    .command('stop')
    .description('stop running instances: the stop signal (SIGTERM), then SIGKILL after the timeout; the restart policy leaves them stopped')
    .option('-t, --time <seconds>', 'seconds to wait before killing (default: the instance\'s --stop-timeout, else 10)')
    .argument('<instance...>')
    .action(async (refs: string[], o: { time?: string }) => {
      const t = seconds(o.time);
      await withEngine(ctx, async (e) => {
        await eachRef(refs, (ref) => e.stop(ref, t));
      });
    });

  program
    .command('restart')
    .description('stop instances (if running) and start them again, same root file system or disk')
    .option('-t, --time <seconds>', 'seconds to wait before killing (default: the instance\'s --stop-timeout, else 10)')
    .argument('<instance...>')
    .action(async (refs: string[], o: { time?: string }) => {
      const t = seconds(o.time);
      await withEngine(ctx, async (e) => {
        await eachRef(refs, (ref) => e.restart(ref, t));
      });
    });

  for (const [verb, what] of [['pause', 'freeze every process of running instances (containers: cgroup freezer; VMs: the vCPUs)'], ['unpause', 'resume paused instances']] as const) {
    program
      .command(verb)
      .description(what)
      .argument('<instance...>')
      .action(async (refs: string[]) => {
        await withEngine(ctx, async (e) => {
          await eachRef(refs, (ref) => (verb === 'pause' ? e.pause(ref) : e.unpause(ref)));
        });
      });
  }

  program
    .command('rename')
    .description('give an instance a new name')
    .argument('<instance>')
    .argument('<new-name>')
    .action(async (ref: string, name: string) => {
      await withEngine(ctx, (e) => e.rename(ref, name));
    });

  program
    .command('kill')
    .description('send a signal to running instances')
    .option('-s, --signal <signal>', 'signal to send', 'KILL')
    .argument('<instance...>')
    .action(async (refs: string[], o: { signal: string }) => {
      await withEngine(ctx, async (e) => {
        await eachRef(refs, (ref) => e.kill(ref, o.signal));
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
        await eachRef(refs, (ref) => e.remove(ref, !!o.force, !!o.volumes));
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
    .option('--run <n>', 'the run of the instance this exit command was started for')
    .argument('<id>')
    .action(async (id: string, o: { dataRoot?: string; run?: string }) => {
      // The data root may be gone by the time a monitor reports (a test removed it): then there
      // is nothing to record, and opening the engine would create an empty root again.
      if (!fs.existsSync(pathsFor(o.dataRoot ?? ctx.config.root).db)) throw new ExitWith(0);
      await withEngine(ctx, async (e) => {
        // This process outlives nothing: it may wait here for a restart's back-off and do it.
        e.restartMode = 'self';
        await e.cleanupInstance(id, o.run !== undefined ? Number(o.run) : undefined);
        await e.keepRestarting(id);
      }, o.dataRoot);
      throw new ExitWith(0);
    });

  program
    .command('_restart', { hidden: true })
    .description('internal: waits for a pending restart\'s back-off and does it')
    .option('--data-root <dir>')
    .option('--run <n>', 'the run of the instance this exit command was started for')
    .argument('<id>')
    .action(async (id: string, o: { dataRoot?: string; run?: string }) => {
      if (!fs.existsSync(pathsFor(o.dataRoot ?? ctx.config.root).db)) throw new ExitWith(0);
      await withEngine(ctx, async (e) => {
        e.restartMode = 'self';
        if (e.claimRestart(id)) await e.keepRestarting(id);
      }, o.dataRoot);
      throw new ExitWith(0);
    });

  program
    .command('_health', { hidden: true })
    .description('internal: the health checker of one run of an instance')
    .option('--data-root <dir>')
    .argument('<id>')
    .argument('<run>')
    .action(async (id: string, run: string, o: { dataRoot?: string }) => {
      if (!fs.existsSync(pathsFor(o.dataRoot ?? ctx.config.root).db)) throw new ExitWith(0);
      const { runHealthChecker } = await import('../engine/health-checker.js');
      await withEngine(ctx, (e) => runHealthChecker(e, id, Number(run)), o.dataRoot);
      throw new ExitWith(0);
    });
}
