import type { CliContext } from './context.js';
import type { Command } from 'commander';
import { adviseAll } from '../advise/advise-report.js';
import { loadInventory } from '../advise/load-inventory.js';
import { loadMeasured } from '../advise/measured.js';
import { askWorkload } from '../advise/questionnaire.js';
import { renderAdviceText } from '../advise/render-advice.js';
import { invalid } from '../core/errors.js';

/** The typed request `isola advise` parses its arguments into. */
export interface AdviseRequest {
  file?: string;
  json: boolean;
  measured?: string;
}

export function register(program: Command, _ctx: CliContext): void {
  program
    .command('advise')
    .description('Recommend container, hardened container, VM or hybrid for each workload, with the rule behind every reason')
    .argument('[file]', 'workload profiles, YAML or JSON (docs/ADVISE.md); omit on a terminal to answer questions instead')
    .option('--json', 'print JSON for tools instead of text', false)
    .option('--measured <result.json>', 'add the measured cost on this host, from isola compare --json')
    .action(async (file: string | undefined, opts: { json: boolean; measured?: string }) => {
      await runAdvise({ file, json: opts.json, measured: opts.measured });
    });
}

async function runAdvise(req: AdviseRequest): Promise<void> {
  const measured = req.measured ? await loadMeasured(req.measured) : undefined;
  let workloads;
  if (req.file) {
    workloads = (await loadInventory(req.file)).workloads;
  } else if (process.stdin.isTTY) {
    // Prompts go to stderr so that stdout carries only the advice (and stays valid with --json).
    workloads = [await askWorkload(process.stdin, process.stderr)];
  } else {
    throw invalid('isola advise needs a workload file', 'give FILE (see docs/ADVISE.md), or run it on a terminal to answer questions');
  }
  if (workloads.length === 0) throw invalid(`${req.file}: no workloads`, 'list at least one under workloads:');
  const report = adviseAll(workloads, measured, req.file);
  process.stdout.write(req.json ? `${JSON.stringify(report, null, 2)}\n` : renderAdviceText(report));
}
