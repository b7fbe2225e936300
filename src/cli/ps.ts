import type { Command } from 'commander';
import { collect, printJson, withEngine, type CliContext } from './context.js';
import { ago, renderTable } from './table.js';
import { lifeOf, type InstanceRecord } from '../state/instances.js';
import { invalid } from '../core/errors.js';
import { normalizeRef } from '../image/ref.js';
import { formatRestartPolicy } from '../engine/restart-policy.js';
import { checkFields, headerRow, parseTemplate, renderRow, type Row } from './format.js';

/** Docker's status words: created, restarting, running, paused, exited, dead. */
export function dockerState(r: InstanceRecord): string {
  const life = lifeOf(r);
  if (r.state === 'running') return life.paused ? 'paused' : 'running';
  if (r.state === 'exited') return life.restart ? 'restarting' : 'exited';
  return r.state === 'creating' ? 'created' : r.state;
}
import { mappingText } from '../net/publish.js';

export function statusText(r: InstanceRecord): string {
  const life = lifeOf(r);
  switch (r.state) {
    case 'running': {
      const health = life.health && r.spec.health ? (life.health.status === 'starting' ? ' (health: starting)' : ` (${life.health.status})`) : '';
      return `Up ${ago(r.startedAt).replace(' ago', '')}${life.paused ? ' (Paused)' : health}`;
    }
    case 'exited':
      if (life.restart) return `Restarting (${r.exitCode ?? '?'}) ${ago(r.finishedAt)}`;
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

/** The kind as ps shows it: a container placed in a machine names it (hybrid@prod). */
export const kindText = (r: InstanceRecord): string => (r.spec.machine ? `${r.kind}@${r.spec.machine.name}` : r.kind);
/** Its address: a container placed in a machine has the machine's. */
export const ipOf = (r: InstanceRecord): string | null => r.ip ?? r.spec.machine?.ip ?? null;

export function psJson(r: InstanceRecord) {
  const life = lifeOf(r);
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    machine: r.spec.machine?.name ?? null,
    accelerator: accelOf(r),
    image: r.imageRef,
    command: r.spec.argv,
    state: r.state,
    status: statusText(r),
    exitCode: r.exitCode,
    oomKilled: r.oomKilled,
    ip: ipOf(r),
    ports: r.ports.map(mappingText),
    networks: networkNames(r),
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    labels: r.spec.labels ?? {},
    restartPolicy: formatRestartPolicy(r.spec.restart),
    restartCount: life.restartCount,
    paused: life.paused,
    health: r.spec.health ? (life.health?.status ?? 'starting') : null,
  };
}

// ---- --filter -----------------------------------------------------------------------------

export const PS_FILTERS = ['id', 'name', 'label', 'status', 'kind', 'ancestor', 'exited', 'health'] as const;
const STATUSES = ['created', 'restarting', 'running', 'paused', 'exited', 'dead'];
const HEALTHS = ['starting', 'healthy', 'unhealthy', 'none'];

export type PsFilters = Map<string, string[]>;

/** --filter KEY=VALUE, grouped by key (values of one key are alternatives; keys must all match). */
export function parsePsFilters(items: string[]): PsFilters {
  const out: PsFilters = new Map();
  for (const f of items) {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (eq < 0 || !(PS_FILTERS as readonly string[]).includes(key)) throw invalid(`invalid --filter "${f}"`, `use KEY=VALUE with KEY one of ${PS_FILTERS.join(', ')}`);
    if (key === 'status' && !STATUSES.includes(value)) throw invalid(`invalid status "${value}" in --filter`, `use one of ${STATUSES.join(', ')}`);
    if (key === 'health' && !HEALTHS.includes(value)) throw invalid(`invalid health "${value}" in --filter`, `use one of ${HEALTHS.join(', ')}`);
    if (key === 'exited' && !/^\d+$/.test(value)) throw invalid(`invalid exit code "${value}" in --filter`, 'use --filter exited=CODE, e.g. exited=0');
    if (key === 'name') {
      try {
        new RegExp(value);
      } catch {
        throw invalid(`invalid name pattern "${value}" in --filter`, 'give a name or a regular expression');
      }
    }
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** status= and exited= look at every instance, as with Docker (no -a needed). */
export const filtersImplyAll = (f: PsFilters): boolean => f.has('status') || f.has('exited');

export function psMatches(r: InstanceRecord, filters: PsFilters): boolean {
  for (const [key, values] of filters) {
    const ok = values.some((v) => {
      switch (key) {
        case 'id': return r.id.startsWith(v);
        case 'name': return new RegExp(v).test(r.name);
        case 'label': {
          const eq = v.indexOf('=');
          const labels = r.spec.labels ?? {};
          return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
        }
        case 'status': return dockerState(r) === v;
        case 'kind': return r.kind === v;
        case 'ancestor': {
          const digest = r.imageDigest.replace(/^sha256:/, '');
          const want = v.replace(/^sha256:/, '');
          return (/^[0-9a-f]{6,64}$/.test(want) && digest.startsWith(want)) || safeNormalize(v) === r.imageRef;
        }
        case 'exited': return r.state === 'exited' && r.exitCode === Number(v);
        case 'health': return (r.spec.health ? (lifeOf(r).health?.status ?? 'starting') : 'none') === v;
        default: return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

function safeNormalize(ref: string): string | null {
  try {
    return normalizeRef(ref);
  } catch {
    return null;
  }
}

// ---- --format -----------------------------------------------------------------------------

/** The placeholders `ps --format` knows: Docker's (less .Size, .Mounts, .LocalVolumes) and isola's own. */
export const PS_FIELDS = ['ID', 'Names', 'Image', 'Command', 'CreatedAt', 'RunningFor', 'Ports', 'State', 'Status', 'Labels', 'Label', 'Networks', 'Kind', 'Machine', 'Accelerator', 'IP', 'RestartCount', 'Health'] as const;

export const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS',
  State: 'STATE', Status: 'STATUS', Labels: 'LABELS', Label: 'LABEL', Networks: 'NETWORKS', Kind: 'KIND', Machine: 'MACHINE', Accelerator: 'ACCEL', IP: 'IP',
  RestartCount: 'RESTARTS', Health: 'HEALTH',
};

const shortCommand = (r: InstanceRecord) => {
  const s = r.spec.argv.join(' ');
  return `"${s.length > 22 ? `${s.slice(0, 19)}...` : s}"`;
};

/** Docker's CreatedAt: "2006-01-02 15:04:05 -0700 MST" (here always UTC). */
const createdAt = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;

export function psRow(r: InstanceRecord): Row {
  const labels = r.spec.labels ?? {};
  return {
    ID: r.id.slice(0, 12),
    Names: r.name,
    Image: r.imageRef,
    Command: shortCommand(r),
    CreatedAt: createdAt(r.createdAt),
    RunningFor: ago(r.createdAt),
    Ports: r.ports.map(mappingText).join(', '),
    State: dockerState(r),
    Status: statusText(r),
    Labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','),
    Label: (k: string) => labels[k] ?? '',
    Networks: networkNames(r).join(','),
    Kind: kindText(r),
    Machine: r.spec.machine?.name ?? '',
    Accelerator: accelOf(r),
    IP: ipOf(r) ?? '',
    RestartCount: lifeOf(r).restartCount,
    Health: r.spec.health ? (lifeOf(r).health?.status ?? 'starting') : '',
  };
}

export function renderPs(recs: InstanceRecord[], format: string): string {
  const t = parseTemplate(format);
  const rows = recs.map((r) => renderRow(t, psRow(r), PS_FIELDS));
  if (!t.table) return rows.map((l) => `${l}\n`).join('');
  const split = (l: string) => l.split('\t');
  return renderTable(split(headerRow(t, PS_HEADERS)), rows.map(split));
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('ps')
    .description('list instances (running ones, or all with --all)')
    .option('-a, --all', 'show all instances, also exited ones')
    .option('-q, --quiet', 'only print ids')
    .option('--json', 'print JSON')
    .option('-f, --filter <KEY=VALUE>', `filter: ${PS_FILTERS.join(', ')} (repeatable)`, collect, [])
    .option('--format <template>', 'Go-template-like format, e.g. "table {{.ID}}\\t{{.Names}}\\t{{.Status}}" (see docs/CLI.md)')
    .action(async (o: { all?: boolean; quiet?: boolean; json?: boolean; filter: string[]; format?: string }) => {
      const filters = parsePsFilters(o.filter);
      if (o.format) checkFields(parseTemplate(o.format), PS_FIELDS); // a bad template is refused before anything is read
      const recs = (await withEngine(ctx, (e) => e.list(!!o.all || filtersImplyAll(filters)))).filter((r) => psMatches(r, filters));
      if (o.json) return printJson(recs.map(psJson));
      if (o.quiet) return void process.stdout.write(recs.map((r) => `${r.id.slice(0, 12)}\n`).join(''));
      if (o.format) return void process.stdout.write(renderPs(recs, o.format));
      process.stdout.write(
        renderTable(
          ['INSTANCE ID', 'IMAGE', 'KIND', 'ACCEL', 'COMMAND', 'CREATED', 'STATUS', 'IP', 'PORTS', 'NAME'],
          recs.map((r) => [r.id.slice(0, 12), r.imageRef, kindText(r), accelOf(r), shortCommand(r), ago(r.createdAt), statusText(r), ipOf(r) ?? '-', r.ports.map(mappingText).join(', ') || '-', r.name]),
        ),
      );
    });
}
