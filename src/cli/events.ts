import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { collect, withEngine, type CliContext } from './context.js';
import { invalid } from '../core/errors.js';
import type { EventRecord } from '../state/events.js';
import { parseTimeArg } from './time-arg.js';
import { parseTemplate, renderRow } from './format.js';

const FILTER_KEYS = ['type', 'event', 'container', 'image', 'label', 'kind'];

/** --filter KEY=VALUE, grouped by key: one key's values are alternatives, different keys must all match. */
export function parseEventFilters(items: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of items) {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    if (eq < 0 || !FILTER_KEYS.includes(key)) throw invalid(`invalid --filter "${f}"`, `use KEY=VALUE with KEY one of ${FILTER_KEYS.join(', ')}`);
    out.set(key, [...(out.get(key) ?? []), f.slice(eq + 1)]);
  }
  return out;
}

export function eventMatches(e: EventRecord, filters: Map<string, string[]>): boolean {
  for (const [key, values] of filters) {
    const ok = values.some((v) => {
      switch (key) {
        case 'type': return e.type === v;
        // "health_status" matches "health_status: healthy", as Docker's filter does.
        case 'event': return e.action === v || e.action.split(':')[0] === v;
        case 'container': return e.attributes.name === v || (v.length >= 3 && e.actorId.startsWith(v));
        case 'image': return e.attributes.image === v || e.attributes.image === `${v}:latest`;
        case 'kind': return e.attributes.kind === v;
        case 'label': {
          const eq = v.indexOf('=');
          const k = eq < 0 ? v : v.slice(0, eq);
          // Labels are attributes of their own, as Docker records them.
          return eq < 0 ? k in e.attributes : e.attributes[k] === v.slice(eq + 1);
        }
        default: return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

function isoNano(us: number): string {
  return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}000Z`;
}

/** Docker's line: TIME TYPE ACTION ID (key=value, ...), attributes sorted by key. */
export function eventLine(e: EventRecord): string {
  const attrs = Object.keys(e.attributes).sort().map((k) => `${k}=${e.attributes[k]}`).join(', ');
  return `${isoNano(e.timeUs)} ${e.type} ${e.action} ${e.actorId} (${attrs})`;
}

/** Docker's JSON message (`docker events --format '{{json .}}'`). */
export function eventJson(e: EventRecord): Record<string, unknown> {
  return {
    status: e.action, id: e.actorId, from: e.attributes.image, Type: e.type, Action: e.action,
    Actor: { ID: e.actorId, Attributes: e.attributes }, scope: 'local',
    time: Math.floor(e.timeUs / 1e6), timeNano: e.timeUs * 1000,
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('events')
    .description('what happened to instances (create, start, die, oom, health_status, restart, pause, ...), and, without --until, what happens next')
    .option('--since <time>', 'events from this time on (RFC 3339, Unix time, or a duration before now like 10m)')
    .option('--until <time>', 'events up to this time, then exit')
    .option('-f, --filter <KEY=VALUE>', `filter: ${FILTER_KEYS.join(', ')} (repeatable)`, collect, [])
    .option('--json', 'one JSON object per line')
    .option('--format <template>', 'a Go-template-like format, e.g. "{{.Action}} {{.Actor.Attributes.name}}"')
    .action(async (o: { since?: string; until?: string; filter: string[]; json?: boolean; format?: string }) => {
      const now = Date.now();
      const sinceUs = o.since !== undefined ? parseTimeArg(o.since, '--since', now) * 1000 : undefined;
      const untilUs = o.until !== undefined ? parseTimeArg(o.until, '--until', now) * 1000 : undefined;
      const filters = parseEventFilters(o.filter);
      const template = o.format ? parseTemplate(o.format) : null;
      const print = (e: EventRecord) => {
        if (!eventMatches(e, filters)) return;
        const line = template ? renderRow(template, eventJson(e)) : o.json ? JSON.stringify(eventJson(e)) : eventLine(e);
        process.stdout.write(`${line}\n`);
      };
      let stop = false;
      const onInt = () => (stop = true);
      process.once('SIGINT', onInt);
      try {
        await withEngine(ctx, async (e) => {
          // Without --since, only what happens from now on, as docker events does.
          let after = sinceUs === undefined ? e.events.lastSeq() : 0;
          for (;;) {
            for (const ev of e.events.list({ afterSeq: after, ...(sinceUs !== undefined ? { sinceUs } : {}), ...(untilUs !== undefined ? { untilUs } : {}) })) {
              print(ev);
              after = ev.seq;
            }
            if (stop || (untilUs !== undefined && Date.now() * 1000 > untilUs)) return;
            await sleep(100); // no daemon to push events: the table is polled
          }
        });
      } finally {
        process.off('SIGINT', onInt);
      }
    });
}
