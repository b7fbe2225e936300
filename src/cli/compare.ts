import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { ExitWith } from './exit-codes.js';
import { IsolaError, invalid } from '../core/errors.js';
import { parseBytes } from '../core/units.js';
import { Aborted } from '../bench/alternate.js';
import { ARMS, runCompare, type Arm } from '../bench/compare.js';
import { runOpsCompare } from '../bench/ops-compare.js';
import type { AppProbe } from '../bench/load.js';
import { Progress } from '../bench/progress.js';
import { renderHtml } from '../bench/render-html.js';
import { renderTable } from '../bench/render-table.js';
import { saveLatestReport } from '../bench/latest-report.js';

interface CompareFlags {
  image?: string;
  http?: string;
  tcp?: string;
  kinds?: string;
  runs?: string;
  quick?: boolean;
  ops?: boolean;
  replicas?: string;
  json?: string;
  html?: string;
  densityBudget: string;
}

export function parseKinds(text: string | undefined): Arm[] | undefined {
  if (text === undefined) return undefined;
  const kinds = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (kinds.length === 0) throw invalid('--kinds is empty', `name one or more of ${ARMS.join(',')}`);
  for (const k of kinds) if (!(ARMS as readonly string[]).includes(k)) throw invalid(`unknown kind "${k}" in --kinds`, `use a comma-separated list of ${ARMS.join(', ')} (vm-os: a whole disk booting a full OS)`);
  return [...new Set(kinds)] as Arm[];
}

/** --http PORT[/PATH] or --tcp PORT: how compare sees the application answer. */
export function parseAppProbe(http: string | undefined, tcp: string | undefined): AppProbe | undefined {
  if (http !== undefined && tcp !== undefined) throw invalid('--http and --tcp were both given', 'give --http PORT[/PATH] for an HTTP service, or --tcp PORT for any other');
  const port = (text: string, flag: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isInteger(n) || n < 1 || n > 65535) throw invalid(`invalid ${flag} port "${text}"`, `give a port from 1 to 65535, as in ${flag} 8080${flag === '--http' ? '/health' : ''}`);
    return n;
  };
  if (http !== undefined) {
    const i = http.indexOf('/');
    const p = i < 0 ? http : http.slice(0, i);
    const rest = i < 0 ? '/' : http.slice(i);
    if (/\s/.test(rest)) throw invalid(`invalid --http path "${rest}"`, 'give a path without spaces, as in --http 8080/health');
    return { kind: 'http', port: port(p, '--http'), path: rest };
  }
  if (tcp !== undefined) return { kind: 'tcp', port: port(tcp, '--tcp') };
  return undefined;
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
    .description('measure your service (or the example application) as a container, a microVM, a container in a VM and a full-OS VM: startup, load, memory, disk, CPU, network, disk I/O, density and portability, against the claims of the common VM-vs-container comparison')
    .option('--image <ref>', 'with --http/--tcp: your application\'s image; without: the image the probes run in (needs busybox). Default: the example application, or base with --quick')
    .option('--http <port[/path]>', 'the application answers HTTP on this port (GET path, default /): time to first answer, load with wrk, memory while serving')
    .option('--tcp <port>', 'the application listens on this TCP port (not HTTP): time to first connection, connect times, memory')
    .option('--kinds <list>', `comma-separated kinds to measure (default: every kind this host can run; vm-os not under --quick): ${ARMS.join(',')}`)
    .option('--runs <n>', 'counted runs per metric (default 6, --quick 3); also the application instances and full-OS boots per kind')
    .option('--quick', 'a fast first look (about 90 s): the base image, fewer runs, smaller files, no full-OS VM (said so in the output)')
    .option('--ops', 'the operations table instead: per kind, scale a compose service 1 -> 5 replicas, a rolling update, a rollback, a snapshot and a restore (3 runs per kind unless --runs)')
    .option('--replicas <n>', 'with --ops: the replicas a service is scaled to, updated and rolled back (default 5, as in the common comparison\'s --scale web=5)')
    .option('--json <file>', 'write every raw sample and the context as JSON (docs/COMPARE-FORMAT.md)')
    .option('--html <file>', 'write a self-contained HTML report with a chart per metric')
    .option('--density-budget <size>', 'host memory the density test may fill with idle instances', '1g')
    .action(async (flags: CompareFlags) => {
      const kinds = parseKinds(flags.kinds);
      const app = parseAppProbe(flags.http, flags.tcp);
      if (app && flags.image === undefined) throw invalid(`--${app.kind} needs the application's image`, `give --image IMG --${app.kind} ${app.kind === 'http' ? 'PORT[/PATH]' : 'PORT'}, or leave both out for the example application`);
      let runs: number | undefined;
      if (flags.runs !== undefined) {
        runs = Number(flags.runs);
        if (!Number.isInteger(runs) || runs < 2 || runs > 1000) throw invalid(`invalid --runs "${flags.runs}"`, 'use a whole number from 2 to 1000');
      }
      if (flags.ops) {
        const other = flags.quick ? '--quick' : app ? `--${app.kind}` : flags.image !== undefined ? '--image' : undefined;
        if (other) throw invalid(`--ops cannot be combined with ${other}`, 'run isola compare --ops alone (with --kinds, --runs, --json, --html), and the other measurements in a separate compare');
      }
      let replicas: number | undefined;
      if (flags.replicas !== undefined) {
        if (!flags.ops) throw invalid('--replicas needs --ops', 'add --ops, or leave --replicas out');
        replicas = Number(flags.replicas);
        if (!/^\d+$/.test(flags.replicas) || replicas < 2 || replicas > 50) throw invalid(`invalid --replicas "${flags.replicas}"`, 'use a whole number from 2 to 50');
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
        const result = await withEngine(ctx, (engine) => flags.ops ? runOpsCompare({ engine, ...(kinds ? { kinds } : {}), ...(runs ? { runs } : {}), ...(replicas ? { replicas } : {}), progress, signal: ac.signal }) : runCompare({
          engine, ...(flags.image !== undefined ? { image: flags.image } : {}), ...(kinds ? { kinds } : {}), ...(runs ? { runs } : {}), ...(app ? { app } : {}),
          quick: !!flags.quick, densityBudget, progress, signal: ac.signal,
        }));
        process.stdout.write(renderTable(result, { color: !!process.stdout.isTTY }));
        saveLatestReport(ctx.config.root, result); // for isola serve's dashboard
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
