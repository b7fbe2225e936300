import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { invalid } from '../core/errors.js';
import { parseBytes, parseCpus } from '../core/units.js';
import type { ResourceUpdate } from '../core/types.js';
import { parseRestartPolicy } from '../engine/restart-policy.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('update')
    .description('change the limits or restart policy of instances (running ones where the kind allows; see docs/LIFECYCLE.md)')
    .option('-m, --memory <bytes>', 'memory limit (container, hybrid) or guest RAM (vm, stopped only)')
    .option('--cpus <n>', 'CPU limit (container, hybrid) or vCPUs (vm, stopped only)')
    .option('--pids-limit <n>', 'maximum number of processes (container, hybrid)')
    .option('--restart <policy>', 'restart policy: no, on-failure[:N], always, unless-stopped')
    .argument('<instance...>')
    .action(async (refs: string[], o: { memory?: string; cpus?: string; pidsLimit?: string; restart?: string }) => {
      const change: ResourceUpdate = {};
      if (o.memory !== undefined) change.memoryBytes = parseBytes(o.memory, '--memory');
      if (o.cpus !== undefined) change.cpus = parseCpus(o.cpus);
      if (o.pidsLimit !== undefined) {
        const n = Number(o.pidsLimit);
        if (!Number.isInteger(n) || n <= 0) throw invalid(`invalid --pids-limit "${o.pidsLimit}"`, 'use a whole number greater than zero');
        change.pidsLimit = n;
      }
      const restart = o.restart !== undefined ? parseRestartPolicy(o.restart) : undefined;
      if (Object.keys(change).length === 0 && !restart) throw invalid('nothing to update', 'give --memory, --cpus, --pids-limit or --restart');
      await withEngine(ctx, async (e) => {
        for (const ref of refs) {
          await e.update(ref, change, restart);
          process.stdout.write(`${ref}\n`);
        }
      });
    });
}
