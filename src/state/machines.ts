import type { Db } from './db.js';
import type { InstanceSpec, StoredData } from '../core/types.js';
import type { ProcessRef } from '../util/process.js';
import { IsolaError } from '../core/errors.js';

/** A machine's lifecycle as recorded: 'creating' until its disk and record are whole. */
export type MachineState = 'creating' | 'stopped' | 'running';

/** A machine (`isola machine`): a long-lived VM that hosts containers, as the state database records it. */
export interface MachineRecord {
  id: string;
  name: string;
  state: MachineState;
  createdAt: string;
  networkId: string;
  ip: string;
  /** The VM's spec, as the VM driver is given it (its folders, network, memory, CPUs). */
  spec: InstanceSpec;
  /** The VM driver's data (pids, sockets, disks); {} until create finished. */
  data: StoredData;
  /** The process creating it, while state is 'creating'. */
  owner: ProcessRef | null;
}

interface Row {
  id: string;
  name: string;
  state: MachineState;
  created_at: string;
  network_id: string;
  ip: string;
  spec_json: string;
  driver_json: string;
  owner_json: string | null;
}

const fromRow = (r: Row): MachineRecord => ({
  id: r.id, name: r.name, state: r.state, createdAt: r.created_at, networkId: r.network_id, ip: r.ip,
  spec: JSON.parse(r.spec_json) as InstanceSpec, data: JSON.parse(r.driver_json) as StoredData,
  owner: r.owner_json ? JSON.parse(r.owner_json) as ProcessRef : null,
});

/** Addresses machines hold on a network: the address allocators of instances read them too. */
export function machineIps(db: Db, networkId: string): string[] {
  return (db.prepare('SELECT ip FROM machines WHERE network_id = ?').all(networkId) as { ip: string }[]).map((r) => r.ip);
}

/** The machines table. Every write is one statement or one IMMEDIATE transaction. */
export class MachineRepo {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a new machine; `make` runs inside the write lock with the addresses taken on the
   * network (instances' and machines'), so its choice of address is race-free.
   */
  insert(networkId: string, make: (usedIps: string[]) => MachineRecord): MachineRecord {
    return this.db.transaction(() => {
      const used = [
        ...(this.db.prepare('SELECT ip FROM endpoints WHERE network_id = ?').all(networkId) as { ip: string }[]).map((r) => r.ip),
        ...machineIps(this.db, networkId),
      ];
      const rec = make(used);
      if (this.db.prepare('SELECT id FROM machines WHERE name = ?').get(rec.name)) {
        throw new IsolaError('ALREADY_EXISTS', `machine "${rec.name}" already exists`, 'remove it (isola machine rm) or choose another name');
      }
      this.db.prepare(
        `INSERT INTO machines (id, name, state, created_at, network_id, ip, spec_json, driver_json, owner_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(rec.id, rec.name, rec.state, rec.createdAt, rec.networkId, rec.ip, JSON.stringify(rec.spec), JSON.stringify(rec.data), rec.owner ? JSON.stringify(rec.owner) : null);
      return rec;
    }).immediate();
  }

  get(id: string): MachineRecord | undefined {
    const r = this.db.prepare('SELECT * FROM machines WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  /** By exact name, exact id, or unique id prefix. */
  find(ref: string): MachineRecord | undefined {
    const r = this.db.prepare('SELECT * FROM machines WHERE name = ? OR id = ?').get(ref, ref) as Row | undefined;
    if (r) return fromRow(r);
    if (!/^[a-f0-9]{3,63}$/.test(ref)) return undefined;
    const rows = this.db.prepare('SELECT * FROM machines WHERE id LIKE ?').all(`${ref}%`) as Row[];
    if (rows.length > 1) throw new IsolaError('INVALID_ARGUMENT', `"${ref}" matches ${rows.length} machines`, 'give more characters of the id, or the name');
    return rows[0] && fromRow(rows[0]);
  }

  list(): MachineRecord[] {
    return (this.db.prepare('SELECT * FROM machines ORDER BY created_at').all() as Row[]).map(fromRow);
  }

  /** Records the driver's data (before anything waits on what it started) and the state. */
  setData(id: string, data: StoredData, state?: MachineState): void {
    if (state) this.db.prepare('UPDATE machines SET driver_json = ?, state = ?, owner_json = NULL WHERE id = ?').run(JSON.stringify(data), state, id);
    else this.db.prepare('UPDATE machines SET driver_json = ? WHERE id = ?').run(JSON.stringify(data), id);
  }

  setState(id: string, state: MachineState): void {
    this.db.prepare('UPDATE machines SET state = ? WHERE id = ?').run(state, id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM machines WHERE id = ?').run(id);
  }
}
