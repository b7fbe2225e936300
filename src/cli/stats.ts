import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { printJson, withEngine, type CliContext } from './context.js';
import { renderTable } from './table.js';
import { formatBytes } from '../core/units.js';
import type { Stats } from '../core/types.js';
import type { Engine } from '../engine/engine.js';

interface Sample {
  name: string;
  id: string;
  kind: string;
  stats: Stats;
  cpuPercent: number | null;
}

async function sample(e: Engine, refs: string[], prev: Map<string, { t: number; cpu: number }>): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const ref of refs) {
    const { rec, stats } = await e.stats(ref);
    const t = Date.parse(stats.time);
    const p = prev.get(rec.id);
    const cpuPercent = p && t > p.t ? ((stats.cpuNanos - p.cpu) / ((t - p.t) * 1e6)) * 100 : null;
    prev.set(rec.id, { t, cpu: stats.cpuNanos });
    out.push({ name: rec.name, id: rec.id, kind: rec.kind, stats, cpuPercent });
  }
  return out;
}

function table(samples: Sample[]): string {
  return renderTable(
    ['INSTANCE ID', 'NAME', 'KIND', 'CPU %', 'MEM USAGE / LIMIT', 'NET I/O', 'PIDS', 'ISOLATION OVERHEAD'],
    samples.map((s) => [
      s.id.slice(0, 12), s.name, s.kind,
      s.cpuPercent === null ? '--' : `${s.cpuPercent.toFixed(2)}%`,
      `${formatBytes(s.stats.memoryBytes)} / ${s.stats.memoryLimitBytes ? formatBytes(s.stats.memoryLimitBytes) : 'unlimited'}`,
      s.stats.netRxBytes === null ? '--' : `${formatBytes(s.stats.netRxBytes)} / ${formatBytes(s.stats.netTxBytes ?? 0)}`,
      s.stats.pids === null ? '--' : String(s.stats.pids),
      s.stats.hostOverheadBytes === null ? '--' : formatBytes(s.stats.hostOverheadBytes),
    ]),
  );
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('stats')
    .description('live resource usage of running instances (CPU, memory, network, pids, isolation overhead)')
    .option('--no-stream', 'print one sample and exit')
    .option('--json', 'print JSON (one sample, like --no-stream)')
    .argument('[instance...]')
    .action(async (refs: string[], o: { stream: boolean; json?: boolean }) => {
      await withEngine(ctx, async (e) => {
        const names = refs.length > 0 ? refs : (await e.list(false)).filter((r) => r.state === 'running').map((r) => r.id);
        const prev = new Map<string, { t: number; cpu: number }>();
        // A first sample gives CPU % a baseline; a short pause makes the one-shot figure meaningful.
        await sample(e, names, prev);
        await sleep(500);
        const first = await sample(e, names, prev);
        if (o.json) return printJson(first.map((s) => ({ id: s.id, name: s.name, kind: s.kind, cpuPercent: s.cpuPercent, ...s.stats })));
        process.stdout.write(table(first));
        if (!o.stream) return;
        let stopped = false;
        process.once('SIGINT', () => (stopped = true));
        while (!stopped) {
          await sleep(1000);
          process.stdout.write(`\n${table(await sample(e, names, prev))}`);
        }
      });
    });
}
