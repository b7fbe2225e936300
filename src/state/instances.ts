import type { Db } from './db.js';
import type { InstanceSpec, Kind, StoredData } from '../core/types.js';
import { IsolaError } from '../core/errors.js';
import type { Forwarder, PortMapping } from '../net/publish.js';

export type InstanceState = 'creating' | 'created' | 'running' | 'exited';

export interface InstanceRecord {
  id: string;
  name: string;
  kind: Kind;
  imageRef: string;
  imageDigest: string;
  state: InstanceState;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  oomKilled: boolean;
  ip: string | null;
  autoRemove: boolean;
  cleaned: boolean;
  spec: InstanceSpec;
  data: StoredData;
  /** -p mappings; `pid` is set while a forwarder runs. */
  ports: (PortMapping | Forwarder)[];
}

interface Row {
  id: string;
  name: string;
  kind: string;
  image_ref: string;
  image_digest: string;
  state: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  oom_killed: number;
  ip: string | null;
  auto_remove: number;
  cleaned: number;
  spec_json: string;
  driver_json: string;
  ports_json: string;
}

function fromRow(r: Row): InstanceRecord {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as Kind,
    imageRef: r.image_ref,
    imageDigest: r.image_digest,
    state: r.state as InstanceState,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    exitCode: r.exit_code,
    oomKilled: r.oom_killed === 1,
    ip: r.ip,
    autoRemove: r.auto_remove === 1,
    cleaned: r.cleaned === 1,
    spec: JSON.parse(r.spec_json) as InstanceSpec,
    data: JSON.parse(r.driver_json) as StoredData,
    ports: JSON.parse(r.ports_json) as (PortMapping | Forwarder)[],
  };
}

/** The instances table. Every write is one statement or one IMMEDIATE transaction. */
export class InstanceRepo {
  constructor(private readonly db: Db) {}

  /** Inserts a new instance; `allocate` runs inside the write lock so its choice (an IP) is race-free. */
  insert(make: (usedIps: string[]) => InstanceRecord): InstanceRecord {
    return this.db.transaction(() => {
      const used = (this.db.prepare('SELECT ip FROM instances WHERE ip IS NOT NULL').all() as { ip: string }[]).map((r) => r.ip);
      const rec = make(used);
      const clash = this.db.prepare('SELECT id FROM instances WHERE name = ?').get(rec.name);
      if (clash) throw new IsolaError('ALREADY_EXISTS', `the name "${rec.name}" is already in use`, 'remove that instance (isola rm) or choose another --name');
      this.db
        .prepare(
          `INSERT INTO instances (id, name, kind, image_ref, image_digest, state, created_at, ip, auto_remove, spec_json, driver_json, ports_json)
           VALUES (@id, @name, @kind, @imageRef, @imageDigest, @state, @createdAt, @ip, @autoRemove, @spec, @data, @ports)`,
        )
        .run({ ...rec, autoRemove: rec.autoRemove ? 1 : 0, spec: JSON.stringify(rec.spec), data: JSON.stringify(rec.data), ports: JSON.stringify(rec.ports) });
      return rec;
    }).immediate();
  }

  get(id: string): InstanceRecord | undefined {
    const r = this.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  /** By exact name, exact id, or unique id prefix (Docker's rules). */
  find(ref: string): InstanceRecord | undefined {
    const byName = this.db.prepare('SELECT * FROM instances WHERE name = ? OR id = ?').get(ref, ref) as Row | undefined;
    if (byName) return fromRow(byName);
    if (!/^[a-f0-9]{3,63}$/.test(ref)) return undefined;
    const rows = this.db.prepare('SELECT * FROM instances WHERE id LIKE ?').all(`${ref}%`) as Row[];
    if (rows.length > 1) throw new IsolaError('INVALID_ARGUMENT', `"${ref}" matches ${rows.length} instances`, 'give more characters of the id, or the name');
    return rows[0] && fromRow(rows[0]);
  }

  list(): InstanceRecord[] {
    return (this.db.prepare('SELECT * FROM instances ORDER BY created_at DESC').all() as Row[]).map(fromRow);
  }

  listUnsettled(): InstanceRecord[] {
    return (this.db.prepare("SELECT * FROM instances WHERE state != 'exited' OR cleaned = 0").all() as Row[]).map(fromRow);
  }

  markCreated(id: string, data: StoredData): void {
    this.db.prepare("UPDATE instances SET state = 'created', driver_json = ? WHERE id = ?").run(JSON.stringify(data), id);
  }

  markRunning(id: string, data: StoredData, at: string): void {
    this.db.prepare("UPDATE instances SET state = 'running', started_at = ?, driver_json = ? WHERE id = ?").run(at, JSON.stringify(data), id);
  }

  /** Records an exit once; a second report of the same exit changes nothing. */
  markExited(id: string, exitCode: number, oomKilled: boolean, at: string): void {
    this.db
      .prepare("UPDATE instances SET state = 'exited', exit_code = ?, oom_killed = ?, finished_at = ? WHERE id = ? AND state != 'exited'")
      .run(exitCode, oomKilled ? 1 : 0, at, id);
  }

  /** Claims the cleanup of an exited instance: true for exactly one caller. */
  claimCleanup(id: string): boolean {
    return this.db.prepare("UPDATE instances SET cleaned = 1 WHERE id = ? AND state = 'exited' AND cleaned = 0").run(id).changes === 1;
  }

  setPorts(id: string, ports: (PortMapping | Forwarder)[]): void {
    this.db.prepare('UPDATE instances SET ports_json = ? WHERE id = ?').run(JSON.stringify(ports), id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM instances WHERE id = ?').run(id);
  }
}
