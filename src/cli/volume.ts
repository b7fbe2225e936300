import type { Command } from 'commander';
import { collect, printJson, withEngine, type CliContext } from './context.js';
import { ago, renderTable } from './table.js';
import { invalid } from '../core/errors.js';
import { formatBytes } from '../core/units.js';
import type { VolumeInfo } from '../engine/volumes.js';

/** Docker-shaped volume inspect output, plus isola's anonymous flag, users and size. */
export function volumeDoc(v: VolumeInfo, sizeBytes?: number) {
  return {
    Name: v.name,
    Driver: 'local',
    Mountpoint: v.mountpoint,
    CreatedAt: v.createdAt,
    Labels: v.labels,
    Scope: 'local',
    Anonymous: v.anonymous,
    UsedBy: v.usedBy,
    ...(sizeBytes !== undefined ? { SizeBytes: sizeBytes } : {}),
  };
}

function labels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    const k = eq < 0 ? l : l.slice(0, eq);
    if (!k) throw invalid(`invalid --label "${l}"`, 'use --label KEY=VALUE');
    out[k] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

export function register(program: Command, ctx: CliContext): void {
  const volume = program.command('volume').description('named and anonymous volumes: data that outlives instances (<root>/volumes/NAME/_data)');

  volume
    .command('create')
    .description('create a named volume (a random name when none is given); `run -v NAME:PATH` also creates one on first use')
    .argument('[name]')
    .option('--label <key=value>', 'set a label (repeatable)', collect, [])
    .action(async (name: string | undefined, o: { label: string[] }) => {
      const l = labels(o.label);
      const v = await withEngine(ctx, async (e) => e.volumes.create(name, l));
      process.stdout.write(`${v.name}\n`);
    });

  volume
    .command('ls')
    .description('list volumes')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'only print names')
    .action(async (o: { json?: boolean; quiet?: boolean }) => {
      const list = await withEngine(ctx, async (e) => e.volumes.list());
      if (o.json) return printJson(list.map((v) => volumeDoc(v)));
      if (o.quiet) return void process.stdout.write(list.map((v) => `${v.name}\n`).join(''));
      process.stdout.write(renderTable(
        ['VOLUME NAME', 'ANONYMOUS', 'CREATED', 'USED BY'],
        list.map((v) => [v.name, v.anonymous ? 'yes' : 'no', ago(v.createdAt), v.usedBy.join(', ')]),
      ));
    });

  volume
    .command('inspect')
    .description('show volumes: where the data is, labels, which instances use them, size')
    .argument('<name...>')
    .option('--json', 'print JSON (Docker\'s shape)')
    .action(async (names: string[], o: { json?: boolean }) => {
      const docs = await withEngine(ctx, async (e) => names.map((n) => volumeDoc(e.volumes.inspect(n), e.volumes.sizeBytes(n))));
      if (o.json) return printJson(docs);
      process.stdout.write(docs.map((d) => [
        `Name:        ${d.Name}${d.Anonymous ? ' (anonymous)' : ''}`,
        `Mountpoint:  ${d.Mountpoint}`,
        `Created:     ${d.CreatedAt}`,
        `Size:        ${formatBytes(d.SizeBytes ?? 0)}`,
        `Labels:      ${Object.entries(d.Labels).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}`,
        `Used by:     ${d.UsedBy.join(', ') || '(no instance)'}`,
      ].join('\n') + '\n').join('\n'));
    });

  volume
    .command('rm')
    .description('remove volumes and their data; refused while any instance (running or not) uses one')
    .argument('<name...>')
    .action(async (names: string[]) => {
      await withEngine(ctx, async (e) => {
        for (const n of names) {
          e.volumes.remove(n);
          process.stdout.write(`${n}\n`);
        }
      });
    });

  volume
    .command('prune')
    .description('remove the anonymous volumes no instance uses (with --all, every unused volume)')
    .option('-a, --all', 'also remove unused named volumes')
    .action(async (o: { all?: boolean }) => {
      const removed = await withEngine(ctx, async (e) => e.volumes.prune(!!o.all));
      for (const n of removed) process.stdout.write(`${n}\n`);
      process.stdout.write(`removed ${removed.length} volume(s)\n`);
    });
}
