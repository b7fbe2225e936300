import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, renderRow, checkFields } from '../../../src/cli/format.js';
import { parsePsFilters, psMatches, renderPs, statusText, dockerState, filtersImplyAll, PS_FIELDS } from '../../../src/cli/ps.js';
import { eventLine, eventMatches, parseEventFilters, eventJson } from '../../../src/cli/events.js';
import { NEW_LIFE, type InstanceRecord } from '../../../src/state/instances.js';
import { isIsolaError } from '../../../src/core/errors.js';

const rec = (over: Partial<InstanceRecord> = {}, spec: Partial<InstanceRecord['spec']> = {}): InstanceRecord => ({
  id: 'abcdef0123456789'.padEnd(64, '0'), name: 'web-1', kind: 'container', imageRef: 'base:latest', imageDigest: `sha256:${'b'.repeat(64)}`,
  state: 'running', createdAt: new Date(Date.now() - 60_000).toISOString(), startedAt: new Date(Date.now() - 5000).toISOString(), finishedAt: null,
  exitCode: null, oomKilled: false, ip: '10.77.0.2', autoRemove: false, cleaned: false,
  spec: { argv: ['sleep', '600'], labels: { tier: 'web', team: 'a' }, network: { mode: 'bridge' }, ...spec } as unknown as InstanceRecord['spec'],
  data: {}, ports: [], owner: null, bootId: null, life: { ...NEW_LIFE }, ...over,
});

test('the --format subset: fields, paths, .Label "k", json, \\t, table with Docker\'s headers', () => {
  const r = rec();
  assert.equal(renderPs([r], '{{.ID}} {{.Names}} {{.Kind}}'), 'abcdef012345 web-1 container\n');
  assert.equal(renderPs([r], '{{.Label "tier"}}|{{.Labels}}'), 'web|tier=web,team=a\n');
  assert.equal(renderPs([r], '{{.State}}\\t{{.Status}}'), 'running\tUp 5 seconds\n');
  const table = renderPs([r], 'table {{.ID}}\\t{{.Names}}\\t{{.RunningFor}}').split('\n');
  assert.match(table[0] ?? '', /^CONTAINER ID\s+NAMES\s+CREATED$/);
  assert.match(table[1] ?? '', /^abcdef012345\s+web-1\s+1 minute ago$/);
  assert.equal(renderRow(parseTemplate('{{json .A}}'), { A: { b: 1 } }), '{"b":1}');
  assert.equal(renderRow(parseTemplate('{{.Actor.ID}}'), { Actor: { ID: 'x' } }), 'x');
  for (const t of ['{{.Size}}', '{{.Nope}}', '{{range .X}}', '{{ .ID | upper }}']) {
    assert.throws(() => checkFields(parseTemplate(t), PS_FIELDS), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), t);
  }
});

test('ps status: health, paused, restarting, in Docker\'s words', () => {
  assert.equal(statusText(rec({}, { health: { test: ['CMD', 'x'] } as never, })), 'Up 5 seconds');
  const withHealth = (status: 'starting' | 'healthy' | 'unhealthy') => rec({ life: { ...NEW_LIFE, health: { status, failingStreak: 0, log: [], checker: null } } }, { health: { test: ['CMD', 'x'] } as never });
  assert.equal(statusText(withHealth('starting')), 'Up 5 seconds (health: starting)');
  assert.equal(statusText(withHealth('healthy')), 'Up 5 seconds (healthy)');
  assert.equal(statusText(withHealth('unhealthy')), 'Up 5 seconds (unhealthy)');
  const paused = rec({ life: { ...NEW_LIFE, paused: true } });
  assert.equal(statusText(paused), 'Up 5 seconds (Paused)');
  assert.equal(dockerState(paused), 'paused');
  const restarting = rec({ state: 'exited', exitCode: 3, finishedAt: new Date(Date.now() - 2000).toISOString(), life: { ...NEW_LIFE, restart: { due: '', since: '', owner: null } } });
  assert.equal(statusText(restarting), 'Restarting (3) 2 seconds ago');
  assert.equal(dockerState(restarting), 'restarting');
});

test('ps --filter: keys AND, values of one key OR; status and exited imply --all; bad filters refused', () => {
  const a = rec();
  const b = rec({ id: 'ffff'.padEnd(64, '1'), name: 'db', kind: 'vm', state: 'exited', exitCode: 3, imageRef: 'postgres:16' }, { labels: { tier: 'db' } });
  const f = (items: string[]) => [a, b].filter((r) => psMatches(r, parsePsFilters(items))).map((r) => r.name);
  assert.deepEqual(f(['label=tier=web']), ['web-1']);
  assert.deepEqual(f(['label=team']), ['web-1']);
  assert.deepEqual(f(['label=tier']), ['web-1', 'db']);
  assert.deepEqual(f(['status=exited']), ['db']);
  assert.deepEqual(f(['status=running', 'status=exited']), ['web-1', 'db']);
  assert.deepEqual(f(['status=running', 'kind=vm']), []);
  assert.deepEqual(f(['name=^web']), ['web-1']);
  assert.deepEqual(f(['kind=vm']), ['db']);
  assert.deepEqual(f(['ancestor=postgres:16']), ['db']);
  assert.deepEqual(f(['ancestor=base']), ['web-1']);
  assert.deepEqual(f(['ancestor=bbbbbbbb']), ['web-1', 'db']);
  assert.deepEqual(f(['exited=3']), ['db']);
  assert.deepEqual(f(['id=ffff']), ['db']);
  assert.deepEqual(f(['health=none']), ['web-1', 'db']);
  assert.equal(filtersImplyAll(parsePsFilters(['status=exited'])), true);
  assert.equal(filtersImplyAll(parsePsFilters(['kind=vm'])), false);
  for (const x of ['status=sleeping', 'colour=red', 'exited=x', 'name=(', 'health=ok', 'label']) assert.throws(() => parsePsFilters([x]), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), x);
});

test('events: filters by type, event (health_status too), container, label, kind; Docker\'s line and JSON', () => {
  const ev = { seq: 1, timeUs: 1714557600_123456, type: 'container', action: 'health_status: healthy', actorId: 'a'.repeat(64), attributes: { name: 'web', image: 'base:latest', kind: 'vm', tier: 'web' } };
  const m = (items: string[]) => eventMatches(ev, parseEventFilters(items));
  assert.equal(m(['event=health_status']), true);
  assert.equal(m(['event=health_status: healthy']), true);
  assert.equal(m(['event=die']), false);
  assert.equal(m(['event=die', 'event=health_status']), true);
  assert.equal(m(['container=web', 'type=container']), true);
  assert.equal(m(['container=aaaa']), true);
  assert.equal(m(['container=db']), false);
  assert.equal(m(['label=tier=web', 'kind=vm']), true);
  assert.equal(m(['label=tier=db']), false);
  assert.equal(m(['image=base']), true);
  assert.throws(() => parseEventFilters(['since=1']), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
  assert.equal(eventLine(ev), `2024-05-01T10:00:00.123456000Z container health_status: healthy ${'a'.repeat(64)} (image=base:latest, kind=vm, name=web, tier=web)`);
  const j = eventJson(ev);
  assert.equal(j.Action, 'health_status: healthy');
  assert.equal(j.time, 1714557600);
});
