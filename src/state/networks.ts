import type { Db } from './db.js';
import { machineIps } from './machines.js';
import { IsolaError } from '../core/errors.js';
import type { ProcessRef } from '../util/process.js';

/**
 * User networks (`isola network create`): creating -> ready. `creating` records the process
 * making its bridge and rules, so a create whose process died is recognised and undone.
 */
export interface NetworkRecord {
  id: string;
  name: string;
  /** A.B.C.D/N */
  subnet: string;
  gateway: string;
  bridge: string;
  createdAt: string;
  state: 'creating' | 'ready';
  owner: ProcessRef | null;
}

/** One interface of one instance: on which network, with which address, named what inside. */
export interface Endpoint {
  instanceId: string;
  networkId: string;
  ip: string;
  ifname: string;
}

interface Row {
  id: string;
  name: string;
  subnet: string;
  gateway: string;
  bridge: string;
  created_at: string;
  state: string;
  owner_json: string | null;
}

const fromRow = (r: Row): NetworkRecord => ({
  id: r.id, name: r.name, subnet: r.subnet, gateway: r.gateway, bridge: r.bridge, createdAt: r.created_at,
  state: r.state as NetworkRecord['state'], owner: r.owner_json ? JSON.parse(r.owner_json) as ProcessRef : null,
});

interface EndpointRow {
  instance_id: string;
  network_id: string;
  ip: string;
  ifname: string;
}

const fromEndpoint = (r: EndpointRow): Endpoint => ({ instanceId: r.instance_id, networkId: r.network_id, ip: r.ip, ifname: r.ifname });

/** The networks and endpoints tables. Every write that allocates is one IMMEDIATE transaction. */
export class NetworkRepo {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a network; `make` runs inside the write lock with the subnets of the data root's
   * networks, so its choice of subnet is race-free within the data root.
   */
  insert(make: (subnets: string[]) => NetworkRecord): NetworkRecord {
    return this.db.transaction(() => {
      const subnets = (this.db.prepare('SELECT subnet FROM networks').all() as { subnet: string }[]).map((r) => r.subnet);
      const rec = make(subnets);
      if (this.db.prepare('SELECT id FROM networks WHERE name = ?').get(rec.name)) {
        throw new IsolaError('ALREADY_EXISTS', `a network named "${rec.name}" already exists`, 'choose another name, or remove that network (isola network rm)');
      }
      this.db.prepare(`INSERT INTO networks (id, name, subnet, gateway, bridge, created_at, state, owner_json)
                       VALUES (@id, @name, @subnet, @gateway, @bridge, @createdAt, @state, @owner)`)
        .run({ ...rec, owner: rec.owner ? JSON.stringify(rec.owner) : null });
      return rec;
    }).immediate();
  }

  markReady(id: string): void {
    this.db.prepare("UPDATE networks SET state = 'ready', owner_json = NULL WHERE id = ?").run(id);
  }

  get(id: string): NetworkRecord | undefined {
    const r = this.db.prepare('SELECT * FROM networks WHERE id = ?').get(id) as Row | undefined;
    return r && fromRow(r);
  }

  /** By exact name, exact id, or unique id prefix. */
  find(ref: string): NetworkRecord | undefined {
    const r = this.db.prepare('SELECT * FROM networks WHERE name = ? OR id = ?').get(ref, ref) as Row | undefined;
    if (r) return fromRow(r);
    if (!/^[a-f0-9]{3,63}$/.test(ref)) return undefined;
    const rows = this.db.prepare('SELECT * FROM networks WHERE id LIKE ?').all(`${ref}%`) as Row[];
    if (rows.length > 1) throw new IsolaError('INVALID_ARGUMENT', `"${ref}" matches ${rows.length} networks`, 'give more characters of the id, or the name');
    return rows[0] && fromRow(rows[0]);
  }

  list(): NetworkRecord[] {
    return (this.db.prepare('SELECT * FROM networks ORDER BY created_at').all() as Row[]).map(fromRow);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }

  // ---- endpoints ------------------------------------------------------------------------

  endpointsOn(networkId: string): Endpoint[] {
    return (this.db.prepare('SELECT * FROM endpoints WHERE network_id = ? ORDER BY ip').all(networkId) as EndpointRow[]).map(fromEndpoint);
  }

  endpointsOf(instanceId: string): Endpoint[] {
    return (this.db.prepare('SELECT * FROM endpoints WHERE instance_id = ? ORDER BY ifname').all(instanceId) as EndpointRow[]).map(fromEndpoint);
  }

  /**
   * Adds an interface to an instance: `make` runs inside the write lock with the addresses taken
   * on that network and the interface names the instance has, so its choice is race-free.
   */
  addEndpoint(instanceId: string, networkId: string, make: (usedIps: string[], ifnames: string[]) => Endpoint, after?: (e: Endpoint) => void): Endpoint {
    return this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM endpoints WHERE instance_id = ? AND network_id = ?').get(instanceId, networkId)) {
        throw new IsolaError('ALREADY_EXISTS', 'the instance is already connected to that network', 'nothing to do');
      }
      const used = [...(this.db.prepare('SELECT ip FROM endpoints WHERE network_id = ?').all(networkId) as { ip: string }[]).map((r) => r.ip), ...machineIps(this.db, networkId)];
      const ifnames = (this.db.prepare('SELECT ifname FROM endpoints WHERE instance_id = ?').all(instanceId) as { ifname: string }[]).map((r) => r.ifname);
      const e = make(used, ifnames);
      this.db.prepare('INSERT INTO endpoints (instance_id, network_id, ip, ifname) VALUES (?, ?, ?, ?)').run(e.instanceId, e.networkId, e.ip, e.ifname);
      after?.(e);
      return e;
    }).immediate();
  }

  removeEndpoint(instanceId: string, networkId: string, after?: () => void): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM endpoints WHERE instance_id = ? AND network_id = ?').run(instanceId, networkId);
      after?.();
    }).immediate();
  }
}
