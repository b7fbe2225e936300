import type { Db } from './db.js';
import type { Kind } from '../core/types.js';
import type { ProcessRef } from '../util/process.js';

/** A snapshot as the state database records it (docs/SNAPSHOTS.md). */
export interface SnapshotRecord {
  /** 32 hex characters: names its files and, for a VM, its qcow2 internal snapshot. */
  id: string;
  instanceId: string;
  /** The user's name for it, unique per instance. */
  name: string;
  /** The kind of the instance it was taken of: what restores it. */
  kind: Kind;
  state: 'creating' | 'ready';
  createdAt: string;
  /** Bytes it holds on disk (a copy of a writable layer; for a VM, the overlay's data it pins). */
  bytes: number;
  /** The process making it, while creating. */
  owner: ProcessRef | null;
}

interface Row {
  id: string;
  instance_id: string;
  name: string;
  kind: string;
  state: string;
  created_at: string;
  bytes: number;
  owner_json: string | null;
}

const fromRow = (r: Row): SnapshotRecord => ({
  id: r.id, instanceId: r.instance_id, name: r.name, kind: r.kind as Kind, state: r.state as SnapshotRecord['state'],
  createdAt: r.created_at, bytes: r.bytes, owner: r.owner_json ? JSON.parse(r.owner_json) as ProcessRef : null,
});

/** The snapshots table; rows go with their instance (ON DELETE CASCADE). */
export class SnapshotRepo {
  constructor(private readonly db: Db) {}

  /** Records a snapshot being made (before any file is written); false when the name is taken. */
  begin(s: Omit<SnapshotRecord, 'state' | 'bytes'>): boolean {
    return this.db
      .prepare("INSERT OR IGNORE INTO snapshots (id, instance_id, name, kind, state, created_at, owner_json) VALUES (?, ?, ?, ?, 'creating', ?, ?)")
      .run(s.id, s.instanceId, s.name, s.kind, s.createdAt, s.owner ? JSON.stringify(s.owner) : null).changes === 1;
  }

  ready(id: string, bytes: number): void {
    this.db.prepare("UPDATE snapshots SET state = 'ready', bytes = ?, owner_json = NULL WHERE id = ?").run(bytes, id);
  }

  get(instanceId: string, name: string): SnapshotRecord | undefined {
    const r = this.db.prepare('SELECT * FROM snapshots WHERE instance_id = ? AND name = ?').get(instanceId, name) as Row | undefined;
    return r && fromRow(r);
  }

  /** Every instance's snapshot of that name (to tell "another instance's" from "unknown"). */
  named(name: string): SnapshotRecord[] {
    return (this.db.prepare('SELECT * FROM snapshots WHERE name = ? OR id = ?').all(name, name) as Row[]).map(fromRow);
  }

  list(instanceId?: string): SnapshotRecord[] {
    const rows = instanceId === undefined
      ? this.db.prepare('SELECT * FROM snapshots ORDER BY created_at, name').all()
      : this.db.prepare('SELECT * FROM snapshots WHERE instance_id = ? ORDER BY created_at, name').all(instanceId);
    return (rows as Row[]).map(fromRow);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
  }
}
