import type { CliContext } from './context.js';
import type { Command } from 'commander';
import { parseAssumeFlag } from '../advise/assumptions.js';
import { parseHostFlag } from '../advise/host.js';
import { loadInventory } from '../advise/load-inventory.js';
import { loadMeasured } from '../advise/measured.js';
import { plan, type PlanRequest } from '../advise/plan.js';
import { renderPlanText } from '../advise/render-plan.js';
import { invalid } from '../core/errors.js';
import { parseBytes } from '../core/units.js';
import { kubePlan, parseStrategy } from '../advise/kube-plan.js';
import { measuredOverhead, parseServiceType, printWarnings, validateOrFail, writeOutput } from './kube-output.js';
import { manifestsFor } from '../export/kube/manifests.js';
import { renderYaml } from '../export/kube/render.js';
import { Warnings } from '../export/kube/warnings.js';

interface PlanOptions {
  host?: string;
  reserved?: string;
  overcommitCpu?: string;
  overcommitMem?: string;
  measured?: string;
  assume: string[];
  json: boolean;
  kube?: boolean;
  strategy: string;
  serviceType: string;
  output?: string;
  validate?: boolean;
  kubevirtSchema?: string;
}

function ratio(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`invalid ${flag} "${text}": must be a number greater than zero`, `use for example ${flag} 2`);
  return n;
}

export function register(program: Command, _ctx: CliContext): void {
  program
    .command('plan')
    .description('How many hosts an inventory needs as VMs, as containers and as advised, with density and cost')
    .argument('<file>', 'workload inventory, YAML or JSON (docs/ADVISE.md)')
    .option('--host <memory/cores>', "host type, for example 128G/32 (replaces the file's hosts:)")
    .option('--reserved <size>', 'host memory kept for the host itself (default: the published GKE formula)')
    .option('--overcommit-cpu <ratio>', 'CPU overcommit ratio (default 1)')
    .option('--overcommit-mem <ratio>', 'memory overcommit ratio (default 1)')
    .option('--measured <result.json>', 'per-instance overheads measured by isola compare --json')
    .option('--assume <key=value>', 'override one assumption (repeatable); isola plan lists them', (v: string, acc: string[]) => [...acc, v], [])
    .option('--json', 'print JSON for tools instead of text', false)
    .option('--kube', 'write the placement as Kubernetes manifests (one set per workload, in the kind the plan chose) instead of the report')
    .option('--strategy <name>', 'with --kube: the placement to write: advised, all-vm, all-container', 'advised')
    .option('--service-type <type>', 'with --kube: type of the Services for workloads\' ports', 'ClusterIP')
    .option('-o, --output <file>', 'with --kube: write to FILE instead of stdout')
    .option('--validate', 'with --kube: check every object against its schema before writing')
    .option('--kubevirt-schema <file>', 'with --kube --validate: the JSON schema of KubeVirt\'s VirtualMachine')
    .action(async (file: string, opts: PlanOptions, cmd: Command) => {
      const kubeOnly = ['strategy', 'serviceType', 'output', 'validate', 'kubevirtSchema'].filter((k) => cmd.getOptionValueSource(k) === 'cli');
      if (!opts.kube && kubeOnly.length) throw invalid(`${kubeOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} apply with --kube only`, 'add --kube, or drop them');
      if (opts.kube && opts.json) throw invalid('--kube and --json are two outputs', 'give one of them');
      const flagAssumptions: Record<string, number> = Object.fromEntries(opts.assume.map(parseAssumeFlag));
      if (opts.overcommitCpu !== undefined) flagAssumptions['overcommit.cpu'] = ratio(opts.overcommitCpu, '--overcommit-cpu');
      if (opts.overcommitMem !== undefined) flagAssumptions['overcommit.memory'] = ratio(opts.overcommitMem, '--overcommit-mem');
      if (opts.reserved !== undefined && !/[a-zA-Z]\s*$/.test(opts.reserved)) {
        throw invalid(`invalid --reserved "${opts.reserved}": a size needs a unit`, 'use for example --reserved 4G');
      }
      const request: PlanRequest = {
        host: opts.host === undefined ? undefined : parseHostFlag(opts.host),
        reservedBytes: opts.reserved === undefined ? undefined : parseBytes(opts.reserved, '--reserved'),
        flagAssumptions,
        measured: opts.measured ? await loadMeasured(opts.measured) : undefined,
        inventory: await loadInventory(file),
      };
      // Everything is computed before anything is written: an error leaves no partial output.
      const report = plan(request);
      if (opts.kube) {
        const warnings = new Warnings();
        const strategy = parseStrategy(opts.strategy);
        const overhead = await measuredOverhead(opts.measured, warnings);
        const kp = kubePlan(request, report, strategy, parseServiceType(opts.serviceType), warnings);
        const manifests = manifestsFor(kp.workloads, warnings, overhead ? { measuredOverhead: overhead } : {});
        await validateOrFail(manifests, !!opts.validate, opts.kubevirtSchema);
        printWarnings(warnings);
        writeOutput(renderYaml(manifests, kp.header), opts.output);
        return;
      }
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderPlanText(report));
    });
}
