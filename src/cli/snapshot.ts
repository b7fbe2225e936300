import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import { ago, renderTable } from './table.js';
import { formatBytes } from '../core/units.js';
import { createSnapshot, listSnapshots, removeSnapshot, restoreSnapshot, type SnapshotView } from '../engine/snapshots.js';

function snapshotDoc(s: SnapshotView) {
  return { Id: s.id, Name: s.name, Instance: s.instance, InstanceId: s.instanceId, Kind: s.kind, State: s.state, CreatedAt: s.createdAt, SizeBytes: s.bytes };
}

export function register(program: Command, ctx: CliContext): void {
  const snapshot = program
    .command('snapshot')
    .description('keep an instance\'s disk (VM, hybrid) or writable layer (container) under a name, and put it back (docs/SNAPSHOTS.md)');

  snapshot
    .command('create')
    .description('take a snapshot; a running container is frozen while its layer is copied, a running VM paused while QEMU marks its disk')
    .argument('<instance>')
    .argument('[name]', 'unique per instance (default: the UTC time, YYYYMMDD-HHMMSS)')
    .action(async (ref: string, name: string | undefined) => {
      const s = await withEngine(ctx, (e) => createSnapshot(e, ref, name));
      process.stdout.write(`${s.name}\n`);
    });

  snapshot
    .command('ls')
    .description('list the snapshots of an instance, or of every instance')
    .argument('[instance]')
    .option('--json', 'print JSON')
    .action(async (ref: string | undefined, o: { json?: boolean }) => {
      const list = await withEngine(ctx, (e) => listSnapshots(e, ref));
      if (o.json) return printJson(list.map(snapshotDoc));
      process.stdout.write(renderTable(
        ['INSTANCE', 'NAME', 'KIND', 'CREATED', 'SIZE', 'STATE'],
        list.map((s) => [s.instance, s.name, s.kind, ago(s.createdAt), formatBytes(s.bytes), s.state]),
      ));
    });

  snapshot
    .command('restore')
    .description('put the instance\'s disk or writable layer back exactly as the snapshot kept it (the instance stopped); the snapshot stays')
    .argument('<instance>')
    .argument('<name>')
    .action(async (ref: string, name: string) => {
      const s = await withEngine(ctx, (e) => restoreSnapshot(e, ref, name));
      process.stdout.write(`${s.name}\n`);
    });

  snapshot
    .command('rm')
    .description('remove a snapshot (an instance\'s are also removed with it by isola rm)')
    .argument('<instance>')
    .argument('<name>')
    .action(async (ref: string, name: string) => {
      await withEngine(ctx, (e) => removeSnapshot(e, ref, name));
      process.stdout.write(`${name}\n`);
    });
}
