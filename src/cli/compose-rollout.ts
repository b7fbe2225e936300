import type { Command } from 'commander';
import { invalid } from '../core/errors.js';
import type { StackModel } from '../compose/model.js';
import { revisionsOf, rollback } from '../compose/rollback.js';
import { printJson, withEngine, type CliContext } from './context.js';
import { renderTable } from './table.js';

/** --parallelism N: a whole number from 1. */
export function parseParallelism(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw invalid(`invalid --parallelism "${text}"`, 'give a whole number of replicas from 1, e.g. --parallelism 2');
  return Number(text);
}

/** `compose rollback SERVICE` and `compose revisions SERVICE` (docs/COMPOSE.md, "Update and rollback"). */
export function registerRollout(compose: Command, ctx: CliContext, stackOf: (cmd: Command) => StackModel): void {
  compose
    .command('rollback')
    .description('return a service to its previous revision (image digest and configuration), rolled replica by replica')
    .argument('<service>')
    .option('--parallelism <n>', 'replicas replaced at a time', '1')
    .option('--wait-timeout <seconds>', 'how long a new replica may take to be ready', '600')
    .action(async (service: string, o: { parallelism: string; waitTimeout: string }, cmd: Command) => {
      const model = stackOf(cmd);
      const parallelism = parseParallelism(o.parallelism);
      const wait = Number(o.waitTimeout);
      if (!Number.isFinite(wait) || wait <= 0) throw invalid(`invalid --wait-timeout "${o.waitTimeout}"`, 'give seconds, e.g. --wait-timeout 120');
      const rev = await withEngine(ctx, (e) => rollback(e, model, service, { parallelism, waitMs: wait * 1000, out: process.stdout }));
      process.stdout.write(`Service ${service} Rolled back (now revision ${rev.seq}, ${rev.imageRef})\n`);
    });

  compose
    .command('revisions')
    .alias('history')
    .description('list the revisions kept of a service: image digest and configuration of each, the latest last')
    .argument('<service>')
    .option('--json', 'print JSON (with each revision\'s resolved service)')
    .action(async (service: string, o: { json?: boolean }, cmd: Command) => {
      const model = stackOf(cmd);
      const revs = await withEngine(ctx, async (e) => revisionsOf(e, model, service));
      if (o.json) {
        return printJson(revs.map((r, i) => ({ revision: r.seq, current: i === revs.length - 1, created: r.createdAt, image: r.imageRef, digest: r.imageDigest, configHash: r.configHash, service: JSON.parse(r.serviceJson) as unknown })));
      }
      process.stdout.write(renderTable(['REVISION', 'CREATED', 'IMAGE', 'DIGEST', 'CONFIG HASH', 'CURRENT'],
        revs.map((r, i) => [String(r.seq), r.createdAt, r.imageRef, r.imageDigest.replace('sha256:', '').slice(0, 12), r.configHash.slice(0, 12), i === revs.length - 1 ? '*' : ''])));
    });
}
