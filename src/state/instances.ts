import type { Db } from './db.js';
import type { InstanceSpec, Kind, StoredData } from '../core/types.js';
import { IsolaError } from '../core/errors.js';
import type { Forwarder, PortMapping } from '../net/publish.js';
import type { ProcessRef } from '../util/process.js';

/**
 * creating -> created -> running -> exited, as Docker's states; `dead` is a create whose process
 * died before it finished (what it made is released; rm removes the rest).
 */
export type InstanceState = 'creating' | 'created' | 'running' | 'exited' | 'dead';

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
  /** While creating: the process doing it, so a create whose process died is recognised. */
  owner: ProcessRef | null;
  /** The boot the instance was started in: after a reboot, nothing it recorded is running. */
  bootId: string | null;
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
  owner_json: string | null;
  boot_id: string | null;
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
    owner: r.owner_json ? JSON.parse(r.owner_json) as ProcessRef : null,
    bootId: r.boot_id,
  };
}

/** The instances table. Every write is one statement or one IMMEDIATE transaction. */
export class InstanceRepo {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a new instance and its interfaces (endpoints); `make` runs inside the write lock with
   * the addresses taken on a network, so its choice (an IP) is race-free.
   */
  insert(make: (usedIps: (networkId: string) => string[]) => InstanceRecord): InstanceRecord {
    return this.db.transaction(() => {
      const used = (networkId: string) => (this.db.prepare('SELECT ip FROM endpoints WHERE network_id = ?').all(networkId) as { ip: string }[]).map((r) => r.ip);
      const rec = make(used);
      const clash = this.db.prepare('SELECT id FROM instances WHERE name = ?').get(rec.name);
      if (clash) throw new IsolaError('ALREADY_EXISTS', `the name "${rec.name}" is already in use`, 'remove that instance (isola rm) or choose another --name');
      this.db
        .prepare(
          `INSERT INTO instances (id, name, kind, image_ref, image_digest, state, created_at, ip, auto_remove, spec_json, driver_json, ports_json, owner_json)
           VALUES (@id, @name, @kind, @imageRef, @imageDigest, @state, @createdAt, @ip, @autoRemove, @spec, @data, @ports, @owner)`,
        )
        .run({
          id: rec.id, name: rec.name, kind: rec.kind, imageRef: rec.imageRef, imageDigest: rec.imageDigest, state: rec.state, createdAt: rec.createdAt, ip: rec.ip,
          autoRemove: rec.autoRemove ? 1 : 0, spec: JSON.stringify(rec.spec), data: JSON.stringify(rec.data), ports: JSON.stringify(rec.ports), owner: rec.owner ? JSON.stringify(rec.owner) : null,
        });
      const first = rec.spec.network?.mode === 'bridge' ? [rec.spec.network] : [];
      const nets = [...first, ...(rec.spec.moreNetworks ?? [])];
      const add = this.db.prepare('INSERT INTO endpoints (instance_id, network_id, ip, ifname) VALUES (?, ?, ?, ?)');
      for (const n of nets) add.run(rec.id, n.networkId ?? 'bridge', n.ip, n.ifname ?? 'eth0');
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
    return (this.db.prepare("SELECT * FROM instances WHERE state NOT IN ('exited', 'dead') OR cleaned = 0").all() as Row[]).map(fromRow);
  }

  // Every transition below names the states it may leave: a late writer (a killed process's
  // successor, a monitor's exit command) can never move an instance backwards.

  markCreated(id: string, data: StoredData): void {
    this.db.prepare("UPDATE instances SET state = 'created', driver_json = ?, owner_json = NULL WHERE id = ? AND state = 'creating'").run(JSON.stringify(data), id);
  }

  /** What a driver has started so far (a monitor, a VMM), recorded before anything waits on it. */
  setData(id: string, data: StoredData): void {
    this.db.prepare("UPDATE instances SET driver_json = ? WHERE id = ? AND state IN ('created', 'running')").run(JSON.stringify(data), id);
  }

  markRunning(id: string, data: StoredData, at: string, bootId: string): boolean {
    return this.db
      .prepare("UPDATE instances SET state = 'running', started_at = ?, driver_json = ?, boot_id = ? WHERE id = ? AND state = 'created'")
      .run(at, JSON.stringify(data), bootId, id).changes === 1;
  }

  /** A create whose process died: what it made has been released (cleaned); rm removes the rest. */
  markDead(id: string): void {
    this.db.prepare("UPDATE instances SET state = 'dead', owner_json = NULL, cleaned = 1 WHERE id = ? AND state = 'creating'").run(id);
  }

  /** Records an exit once; a second report of the same exit changes nothing. */
  markExited(id: string, exitCode: number, oomKilled: boolean, at: string): void {
    this.db
      .prepare("UPDATE instances SET state = 'exited', exit_code = ?, oom_killed = ?, finished_at = ? WHERE id = ? AND state IN ('created', 'running')")
      .run(exitCode, oomKilled ? 1 : 0, at, id);
  }

  /** Claims the cleanup of an exited instance: true for exactly one caller. */
  claimCleanup(id: string): boolean {
    return this.db.prepare("UPDATE instances SET cleaned = 1 WHERE id = ? AND state = 'exited' AND cleaned = 0").run(id).changes === 1;
  }

  /** A changed spec (`network connect` and `disconnect`): its networks, and the first one's address. */
  setSpec(id: string, spec: InstanceSpec): void {
    const ip = spec.network.mode === 'bridge' ? spec.network.ip : null;
    this.db.prepare('UPDATE instances SET spec_json = ?, ip = ? WHERE id = ?').run(JSON.stringify(spec), ip, id);
  }

  setPorts(id: string, ports: (PortMapping | Forwarder)[]): void {
    this.db.prepare('UPDATE instances SET ports_json = ? WHERE id = ?').run(JSON.stringify(ports), id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM instances WHERE id = ?').run(id);
  }
}
