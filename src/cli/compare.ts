import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { ExitWith } from './exit-codes.js';
import { KINDS, type Kind } from '../core/types.js';
import { IsolaError, invalid } from '../core/errors.js';
import { parseBytes } from '../core/units.js';
import { Aborted } from '../bench/alternate.js';
import { runCompare } from '../bench/compare.js';
import { Progress } from '../bench/progress.js';
import { renderHtml } from '../bench/render-html.js';
import { renderTable } from '../bench/render-table.js';

interface CompareFlags {
  image: string;
  kinds?: string;
  runs?: string;
  quick?: boolean;
  json?: string;
  html?: string;
  densityBudget: string;
}

export function parseKinds(text: string | undefined): Kind[] | undefined {
  if (text === undefined) return undefined;
  const kinds = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (kinds.length === 0) throw invalid('--kinds is empty', `name one or more of ${KINDS.join(',')}`);
  for (const k of kinds) if (!(KINDS as readonly string[]).includes(k)) throw invalid(`unknown kind "${k}" in --kinds`, `use a comma-separated list of ${KINDS.join(', ')}`);
  return [...new Set(kinds)] as Kind[];
}

/** Fails before measuring anything when an output file could not be written at the end. */
export function checkWritable(file: string, flag: string): void {
  const abs = path.resolve(file);
  try {
    if (fs.existsSync(abs)) {
      if (fs.statSync(abs).isDirectory()) throw invalid(`${flag} ${file} is a directory`, 'give a file name');
      fs.accessSync(abs, fs.constants.W_OK);
    } else fs.accessSync(path.dirname(abs), fs.constants.W_OK);
  } catch (e) {
    if (e instanceof IsolaError) throw e;
    throw new IsolaError('PERMISSION_DENIED', `cannot write ${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'its folder does not exist' : 'permission denied'}`, 'give a path in an existing, writable folder');
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('compare')
    .description('measure startup, memory, disk, CPU, network, disk I/O and density of one image as container, VM and hybrid against the claims of the common VM-vs-container comparison')
    .option('--image <ref>', 'image to measure', 'base')
    .option('--kinds <list>', `comma-separated kinds to measure (default: every kind this host can run): ${KINDS.join(',')}`)
    .option('--runs <n>', 'counted runs per metric (default 10, --quick 3)')
    .option('--quick', 'a fast first look: fewer runs, smaller files, fewer instances (said so in the output)')
    .option('--json <file>', 'write every raw sample and the context as JSON (docs/COMPARE-FORMAT.md)')
    .option('--html <file>', 'write a self-contained HTML report with a chart per metric')
    .option('--density-budget <size>', 'host memory the density test may fill with idle instances', '1g')
    .action(async (flags: CompareFlags) => {
      const kinds = parseKinds(flags.kinds);
      let runs: number | undefined;
      if (flags.runs !== undefined) {
        runs = Number(flags.runs);
        if (!Number.isInteger(runs) || runs < 2 || runs > 1000) throw invalid(`invalid --runs "${flags.runs}"`, 'use a whole number from 2 to 1000');
      }
      const densityBudget = parseBytes(flags.densityBudget, '--density-budget');
      if (flags.json) checkWritable(flags.json, '--json');
      if (flags.html) checkWritable(flags.html, '--html');

      const progress = new Progress(process.stderr);
      const ac = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (!ac.signal.aborted) progress.note(`${sig}: stopping, removing every instance compare started...`);
        ac.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const result = await withEngine(ctx, (engine) => runCompare({ engine, image: flags.image, ...(kinds ? { kinds } : {}), ...(runs ? { runs } : {}), quick: !!flags.quick, densityBudget, progress, signal: ac.signal }));
        process.stdout.write(renderTable(result));
        if (flags.json) {
          fs.writeFileSync(flags.json, `${JSON.stringify(result, null, 2)}\n`);
          progress.note(`wrote ${flags.json}`);
        }
        if (flags.html) {
          fs.writeFileSync(flags.html, renderHtml(result));
          progress.note(`wrote ${flags.html}`);
        }
      } catch (e) {
        if (e instanceof Aborted || ac.signal.aborted) {
          progress.note('interrupted; every instance compare started was removed');
          throw new ExitWith(130);
        }
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
