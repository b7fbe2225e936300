import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import { renderTable } from './table.js';
import type { ProcessInfo } from '../core/types.js';

/** ps's TIME column: cumulative CPU time as [DD-]HH:MM:SS. */
export function cpuTime(seconds: number): string {
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  const days = Math.floor(s / 86400);
  const hms = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return days > 0 ? `${days}-${hms}` : hms;
}

export function topTable(ps: ProcessInfo[]): string {
  return renderTable(['UID', 'PID', 'PPID', 'STIME', 'TIME', 'CMD'], ps.map((p) => [p.uid, String(p.pid), String(p.ppid), p.started, cpuTime(p.cpuSeconds), p.cmd]));
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('top')
    .description('the processes of a running instance (a container\'s as the host sees them, a VM\'s as its guest does)')
    .option('--json', 'print JSON')
    .argument('<instance>')
    .action(async (ref: string, o: { json?: boolean }) => {
      const { processes } = await withEngine(ctx, (e) => e.top(ref));
      if (o.json) return printJson(processes);
      process.stdout.write(topTable(processes));
    });
}
