import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { parseTimeArg } from './time-arg.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description('print the workload\'s output (stdout and stderr, as it wrote them)')
    .option('-f, --follow', 'keep printing new output until the instance exits')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <lines>', 'number of lines to show from the end', 'all')
    .option('--since <time>', 'lines from this time on (RFC 3339, Unix time, or a duration before now like 10m)')
    .option('--until <time>', 'lines up to this time')
    .argument('<instance>')
    .action(async (ref: string, o: { follow?: boolean; timestamps?: boolean; tail: string; since?: string; until?: string }) => {
      const now = Date.now();
      const since = o.since !== undefined ? parseTimeArg(o.since, '--since', now) : -Infinity;
      const until = o.until !== undefined ? parseTimeArg(o.until, '--until', now) : Infinity;
      // Each line of the CRI log carries its time; Date.parse keeps milliseconds, which is the precision asked for.
      const inWindow = (time: string) => {
        const t = Date.parse(time);
        return !Number.isFinite(t) || (t >= since && t <= until);
      };
      await withEngine(ctx, async (e) => {
        await e.reconcile();
        const rec = e.find(ref);
        const follow = !!o.follow && rec.state === 'running';
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        const tail = o.tail === 'all' ? Infinity : Math.max(0, Number(o.tail));
        const buffered: { stream: string; line: string }[] = [];
        const live = !Number.isFinite(tail);
        const write = (stream: string, line: string) => (stream === 'stderr' ? process.stderr : process.stdout).write(line);
        try {
          for await (const entry of e.logs(rec, follow, ac.signal)) {
            if (!inWindow(entry.time)) {
              if (Date.parse(entry.time) > until) break; // the log is in time order: nothing later fits
              continue;
            }
            const line = `${o.timestamps ? `${entry.time} ` : ''}${entry.text}${entry.partial ? '' : '\n'}`;
            if (live) write(entry.stream, line);
            else {
              buffered.push({ stream: entry.stream, line });
              if (buffered.length > tail) buffered.shift();
            }
          }
        } finally {
          process.off('SIGINT', stop);
        }
        if (!live) for (const b of buffered) write(b.stream, b.line);
      });
    });
}
