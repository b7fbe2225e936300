import type { Db } from './db.js';

/**
 * The events table: what happened to instances, in Docker's words (create, start, die, oom,
 * health_status: healthy, restart, pause, unpause, kill, stop, rename, update, destroy). The
 * engine writes one row at each transition, from whatever process makes it (a CLI command, the
 * monitor's exit command, a health checker); `isola events` reads them, and follows new ones by
 * polling: there is no daemon to push them.
 */
export interface EventRecord {
  seq: number;
  /** Microseconds since the epoch. */
  timeUs: number;
  /** Docker's event type: `container` for instances of every kind. */
  type: string;
  action: string;
  actorId: string;
  attributes: Record<string, string>;
}

/** The table keeps the newest this many events; older ones are dropped as new ones come. */
export const EVENTS_KEPT = 10_000;

interface Row {
  seq: number;
  time_us: number;
  type: string;
  action: string;
  actor_id: string;
  attributes_json: string;
}

const fromRow = (r: Row): EventRecord => ({
  seq: r.seq, timeUs: r.time_us, type: r.type, action: r.action, actorId: r.actor_id, attributes: JSON.parse(r.attributes_json) as Record<string, string>,
});

/** Microseconds since the epoch, increasing within this process even when two events share a millisecond. */
let lastUs = 0;
export function nowUs(): number {
  const us = Math.max(Math.round((performance.timeOrigin + performance.now()) * 1000), lastUs + 1);
  lastUs = us;
  return us;
}

export class EventRepo {
  constructor(private readonly db: Db) {}

  add(type: string, action: string, actorId: string, attributes: Record<string, string>): void {
    const info = this.db.prepare('INSERT INTO events (time_us, type, action, actor_id, attributes_json) VALUES (?, ?, ?, ?, ?)')
      .run(nowUs(), type, action, actorId, JSON.stringify(attributes));
    const seq = Number(info.lastInsertRowid);
    // Trimmed now and then rather than on every insert: one indexed delete per hundred events.
    if (seq % 100 === 0) this.db.prepare('DELETE FROM events WHERE seq <= ?').run(seq - EVENTS_KEPT);
  }

  /** Events after `afterSeq`, within [sinceUs, untilUs], oldest first. */
  list(q: { afterSeq?: number; sinceUs?: number; untilUs?: number } = {}): EventRecord[] {
    const rows = this.db.prepare('SELECT * FROM events WHERE seq > ? AND time_us >= ? AND time_us <= ? ORDER BY seq')
      .all(q.afterSeq ?? 0, q.sinceUs ?? 0, q.untilUs ?? Number.MAX_SAFE_INTEGER) as Row[];
    return rows.map(fromRow);
  }

  lastSeq(): number {
    const r = this.db.prepare('SELECT MAX(seq) AS s FROM events').get() as { s: number | null };
    return r.s ?? 0;
  }
}
