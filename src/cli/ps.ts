import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import { ago, renderTable } from './table.js';
import type { InstanceRecord } from '../state/instances.js';
import { mappingText } from '../net/publish.js';

export function statusText(r: InstanceRecord): string {
  switch (r.state) {
    case 'running':
      return `Up ${ago(r.startedAt).replace(' ago', '')}`;
    case 'exited':
      return `Exited (${r.exitCode ?? '?'})${r.oomKilled ? ' OOMKilled' : ''} ${ago(r.finishedAt)}`;
    case 'dead':
      return 'Dead (its create was interrupted; isola rm removes it)';
    default:
      return r.state === 'created' ? 'Created' : 'Creating';
  }
}

export function accelOf(r: InstanceRecord): string {
  const a = (r.data as { accelerator?: string }).accelerator;
  return typeof a === 'string' ? a : '-';
}

/** The networks an instance is on, its first (eth0's) first. */
export function networkNames(r: InstanceRecord): string[] {
  const s = r.spec;
  const nets = [...(s.network.mode === 'bridge' ? [s.network] : []), ...(s.moreNetworks ?? [])];
  return nets.length ? nets.map((n) => n.networkName ?? 'bridge') : ['none'];
}

export function psJson(r: InstanceRecord) {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    accelerator: accelOf(r),
    image: r.imageRef,
    command: r.spec.argv,
    state: r.state,
    status: statusText(r),
    exitCode: r.exitCode,
    oomKilled: r.oomKilled,
    ip: r.ip,
    ports: r.ports.map(mappingText),
    networks: networkNames(r),
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('ps')
    .description('list instances (running ones, or all with --all)')
    .option('-a, --all', 'show all instances, also exited ones')
    .option('-q, --quiet', 'only print ids')
    .option('--json', 'print JSON')
    .action(async (o: { all?: boolean; quiet?: boolean; json?: boolean }) => {
      const recs = await withEngine(ctx, (e) => e.list(!!o.all));
      if (o.json) return printJson(recs.map(psJson));
      if (o.quiet) return void process.stdout.write(recs.map((r) => `${r.id.slice(0, 12)}\n`).join(''));
      const cmd = (r: InstanceRecord) => {
        const s = r.spec.argv.join(' ');
        return `"${s.length > 22 ? `${s.slice(0, 19)}...` : s}"`;
      };
      process.stdout.write(
        renderTable(
          ['INSTANCE ID', 'IMAGE', 'KIND', 'ACCEL', 'COMMAND', 'CREATED', 'STATUS', 'IP', 'PORTS', 'NAME'],
          recs.map((r) => [r.id.slice(0, 12), r.imageRef, r.kind, accelOf(r), cmd(r), ago(r.createdAt), statusText(r), r.ip ?? '-', r.ports.map(mappingText).join(', ') || '-', r.name]),
        ),
      );
    });
}
