import type { Db } from './db.js';
import { machineIps } from './machines.js';
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
  /** Restarts, pause and health (docs/LIFECYCLE.md); read back from every row, absent only in records made by hand. */
  life?: InstanceLife;
}

// ---- lifecycle state: restarts, pause, health ----

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** One health check run, as Docker's State.Health.Log keeps it. */
export interface HealthResult {
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  /** The last 5 results, oldest first. */
  log: HealthResult[];
  /** The `isola _health` process checking this run, recorded by itself before its first wait. */
  checker: ProcessRef | null;
}

/** A restart waiting for its back-off delay, and the process that will do it. */
export interface PendingRestart {
  /** When it is due (ISO 8601). */
  due: string;
  /** When it was scheduled: an ownerless restart older than a few seconds was orphaned. */
  since: string;
  owner: ProcessRef | null;
}

export interface InstanceLife {
  /** Restarts done by the restart policy since the last start by the user. */
  restartCount: number;
  /** How many times the instance was started: a record of an earlier run cannot touch a later one. */
  runSeq: number;
  /** Stopped by `isola stop` (or kill, rm): the restart policy leaves it alone until started again. */
  stoppedByUser: boolean;
  restart: PendingRestart | null;
  /** The last back-off delay (Docker's: 100 ms doubling to 1 min, reset after 10 s of running). */
  backoffMs: number;
  paused: boolean;
  health: HealthState | null;
}

export const NEW_LIFE: InstanceLife = { restartCount: 0, runSeq: 0, stoppedByUser: false, restart: null, backoffMs: 0, paused: false, health: null };

export function lifeOf(r: InstanceRecord): InstanceLife {
  return r.life ?? NEW_LIFE;
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
  restart_count?: number;
  run_seq?: number;
  stopped_by_user?: number;
  restart_json?: string | null;
  backoff_ms?: number;
  paused?: number;
  health_json?: string | null;
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
    life: {
      restartCount: r.restart_count ?? 0,
      runSeq: r.run_seq ?? 0,
      stoppedByUser: r.stopped_by_user === 1,
      restart: r.restart_json ? JSON.parse(r.restart_json) as PendingRestart : null,
      backoffMs: r.backoff_ms ?? 0,
      paused: r.paused === 1,
      health: r.health_json ? JSON.parse(r.health_json) as HealthState : null,
    },
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
      const used = (networkId: string) => [...(this.db.prepare('SELECT ip FROM endpoints WHERE network_id = ?').all(networkId) as { ip: string }[]).map((r) => r.ip), ...machineIps(this.db, networkId)];
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

  /**
   * Records an exit once; a second report of the same exit changes nothing. With `runSeq`, only
   * the exit of that run: a process that observed an earlier run cannot end a later one.
   * True when this call recorded it.
   */
  markExited(id: string, exitCode: number, oomKilled: boolean, at: string, runSeq?: number): boolean {
    return this.db
      .prepare("UPDATE instances SET state = 'exited', exit_code = ?, oom_killed = ?, finished_at = ?, paused = 0 WHERE id = ? AND state IN ('created', 'running') AND (? IS NULL OR run_seq = ?)")
      .run(exitCode, oomKilled ? 1 : 0, at, id, runSeq ?? null, runSeq ?? null).changes === 1;
  }

  /**
   * An exited, cleaned-up instance becomes `created` again for a new run (start of an exited
   * instance, restart, the restart policy): the one way back, claimed by exactly one caller
   * (the run it ends must be `runSeq`). By the user (`manual`), the restart count and the
   * stopped-by-user mark are reset, as Docker does; by the policy, the count goes up (and at
   * boot, `clearStopped`: an `always` instance the user had stopped runs again, unmarked).
   */
  reopen(id: string, runSeq: number, manual: boolean, clearStopped = manual): boolean {
    return this.db
      .prepare(`UPDATE instances SET state = 'created', cleaned = 0, run_seq = run_seq + 1, exit_code = NULL, oom_killed = 0, paused = 0,
                  restart_json = NULL, health_json = NULL,
                  restart_count = CASE WHEN @manual THEN 0 ELSE restart_count + 1 END,
                  backoff_ms = CASE WHEN @manual THEN 0 ELSE backoff_ms END,
                  stopped_by_user = CASE WHEN @clear THEN 0 ELSE stopped_by_user END
                WHERE id = @id AND state = 'exited' AND cleaned = 1 AND run_seq = @seq`)
      .run({ id, seq: runSeq, manual: manual ? 1 : 0, clear: clearStopped ? 1 : 0 }).changes === 1;
  }

  /** The user stopped it: no restart is pending any more; returns the one that was (to end its owner). */
  markStoppedByUser(id: string): PendingRestart | null {
    return this.db.transaction(() => {
      const r = this.db.prepare('SELECT restart_json FROM instances WHERE id = ?').get(id) as { restart_json: string | null } | undefined;
      this.db.prepare('UPDATE instances SET stopped_by_user = 1, restart_json = NULL WHERE id = ?').run(id);
      return r?.restart_json ? JSON.parse(r.restart_json) as PendingRestart : null;
    }).immediate();
  }

  /** Schedules a restart of run `runSeq` once (the exit's first recorder wins). */
  scheduleRestart(id: string, runSeq: number, pending: PendingRestart, backoffMs: number, evenIfStopped = false): boolean {
    return this.db
      .prepare("UPDATE instances SET restart_json = ?, backoff_ms = ? WHERE id = ? AND state = 'exited' AND run_seq = ? AND restart_json IS NULL AND (stopped_by_user = 0 OR ?)")
      .run(JSON.stringify(pending), backoffMs, id, runSeq, evenIfStopped ? 1 : 0).changes === 1;
  }

  /** Instances whose restart policy is not `no`. */
  listWithRestartPolicy(): InstanceRecord[] {
    return (this.db.prepare("SELECT * FROM instances WHERE json_extract(spec_json, '$.restart.name') IN ('on-failure', 'always', 'unless-stopped')").all() as Row[]).map(fromRow);
  }

  setSpecAndData(id: string, spec: InstanceSpec, data: StoredData): void {
    this.db.prepare('UPDATE instances SET spec_json = ?, driver_json = ? WHERE id = ?').run(JSON.stringify(spec), JSON.stringify(data), id);
  }

  /**
   * Makes `me` the owner of a pending restart whose owner is gone (or never was): true when it
   * is now ours. `alive` tells whether a recorded owner still runs.
   */
  claimRestart(id: string, me: ProcessRef, alive: (p: ProcessRef) => boolean): boolean {
    return this.db.transaction(() => {
      const r = this.db.prepare('SELECT restart_json FROM instances WHERE id = ?').get(id) as { restart_json: string | null } | undefined;
      if (!r?.restart_json) return false;
      const p = JSON.parse(r.restart_json) as PendingRestart;
      if (p.owner && (p.owner.pid !== me.pid || p.owner.startTime !== me.startTime) && alive(p.owner)) return false;
      this.db.prepare('UPDATE instances SET restart_json = ? WHERE id = ?').run(JSON.stringify({ ...p, owner: me }), id);
      return true;
    }).immediate();
  }

  setPaused(id: string, paused: boolean): boolean {
    return this.db.prepare("UPDATE instances SET paused = ? WHERE id = ? AND state = 'running'").run(paused ? 1 : 0, id).changes === 1;
  }

  /** The health state of run `runSeq`; a checker of an earlier run writes nothing. */
  setHealth(id: string, runSeq: number, health: HealthState | null): boolean {
    return this.db.prepare('UPDATE instances SET health_json = ? WHERE id = ? AND run_seq = ?').run(health ? JSON.stringify(health) : null, id, runSeq).changes === 1;
  }

  /** Read-modify-write of the health state of run `runSeq`, in one write transaction. */
  updateHealth(id: string, runSeq: number, fn: (h: HealthState | null) => HealthState | null): HealthState | null {
    return this.db.transaction(() => {
      const r = this.db.prepare('SELECT health_json, run_seq FROM instances WHERE id = ?').get(id) as { health_json: string | null; run_seq: number } | undefined;
      if (!r || r.run_seq !== runSeq) return null;
      const next = fn(r.health_json ? JSON.parse(r.health_json) as HealthState : null);
      this.db.prepare('UPDATE instances SET health_json = ? WHERE id = ?').run(next ? JSON.stringify(next) : null, id);
      return next;
    }).immediate();
  }

  /** A new name (unique), in the row and in the stored spec. */
  rename(id: string, name: string): void {
    this.db.transaction(() => {
      const clash = this.db.prepare('SELECT id FROM instances WHERE name = ? AND id <> ?').get(name, id);
      if (clash) throw new IsolaError('ALREADY_EXISTS', `the name "${name}" is already in use`, 'remove that instance (isola rm) or choose another name');
      const r = this.db.prepare('SELECT spec_json FROM instances WHERE id = ?').get(id) as { spec_json: string } | undefined;
      if (!r) return;
      const spec = { ...JSON.parse(r.spec_json) as InstanceSpec, name };
      this.db.prepare('UPDATE instances SET name = ?, spec_json = ? WHERE id = ?').run(name, JSON.stringify(spec), id);
    }).immediate();
  }

  /** Claims the cleanup of an exited instance: true for exactly one caller. */
  claimCleanup(id: string): boolean {
    return this.db.prepare("UPDATE instances SET cleaned = 1 WHERE id = ? AND state = 'exited' AND cleaned = 0").run(id).changes === 1;
  }

  /** A changed spec (`network connect` and `disconnect`, `update`): its networks, and the first one's address. */
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
