import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { BridgeNetworkSpec, InstanceSpec, Kind } from '../core/types.js';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import type { AnyDriver } from '../drivers/driver.js';
import type { InstanceRecord, InstanceRepo } from '../state/instances.js';
import { NetworkRepo, type NetworkRecord } from '../state/networks.js';
import type { Db } from '../state/db.js';
import { processAlive, processRef } from '../util/process.js';
import { withLock } from '../util/lock.js';
import { BRIDGE, DEFAULT_NETWORK, GATEWAY, PREFIX, SUBNET, bridgeName, macFor } from '../net/names.js';
import { checkSubnet, cidrText, cidrsOverlap, intToIp, nextFreeIp, nextFreeSubnet, parseCidr, type Cidr } from '../net/ipam.js';
import { hostRoutes } from '../net/routes.js';
import { RUN_DIR } from '../net/nft.js';
import { ensureBridge, ensureBridgeLocked, removeBridge, removeBridgeLocked, withNetLock } from '../net/bridge.js';
import { bridgeNetworks, etcFilesFor, readHostResolv, writeEtcFiles, type Peer, type ResolvConf } from '../net/etc-files.js';
import { isValidName, newId } from './names.js';

/** A network an instance can join: the default `bridge` (isola0) or a user network. */
export interface NetworkTarget {
  id: string;
  name: string;
  bridge: string;
  /** A.B.C.D/N */
  subnet: string;
  gateway: string;
  prefixLength: number;
}

export const DEFAULT_TARGET: NetworkTarget = { id: DEFAULT_NETWORK, name: DEFAULT_NETWORK, bridge: BRIDGE, subnet: SUBNET, gateway: GATEWAY, prefixLength: PREFIX };

const RESERVED = new Set(['bridge', 'none', 'host', 'default']);
/** At most this many interfaces per instance (eth0 .. eth7). */
export const MAX_INTERFACES = 8;

export function targetOf(n: NetworkRecord): NetworkTarget {
  return { id: n.id, name: n.name, bridge: n.bridge, subnet: n.subnet, gateway: n.gateway, prefixLength: Number(n.subnet.split('/')[1]) };
}

/** The interface an instance gets on a network, with the address chosen for it. */
export function interfaceOn(t: NetworkTarget, instanceId: string, ip: string, ifname: string): BridgeNetworkSpec {
  return { mode: 'bridge', bridge: t.bridge, ip, prefixLength: t.prefixLength, gateway: t.gateway, mac: macFor(instanceId, ifname), networkId: t.id, networkName: t.name, ifname };
}

/** The lowest free address of a network. */
export function allocateIp(t: NetworkTarget, used: string[]): string {
  return nextFreeIp(used, t.subnet, t.gateway);
}

/** What the network service needs of the engine (passed in, so this file does not import it). */
export interface NetworkContext {
  db: Db;
  instances: InstanceRepo;
  driver(kind: Kind): AnyDriver;
  /** The data root, whose /etc/hosts rewrites are ordered by one lock. */
  root: string;
}

export interface NetworkView {
  id: string;
  name: string;
  driver: 'bridge' | 'null';
  subnet: string | null;
  gateway: string | null;
  bridge: string | null;
  createdAt: string | null;
  instances: { id: string; name: string; ip: string; ifname: string; mac: string }[];
}

/**
 * User networks: each its own bridge and subnet, isolated from the others by isola's nftables
 * rules; its instances find each other by name through their /etc/hosts, which the engine
 * rewrites whenever an instance joins or leaves (see docs/NETWORK.md for why files and not a DNS
 * server).
 */
export class Networks {
  readonly repo: NetworkRepo;

  constructor(private readonly ctx: NetworkContext) {
    this.repo = new NetworkRepo(ctx.db);
  }

  /** `--network NAME`: the default network, or a ready user network by name or id. */
  resolve(ref: string): NetworkTarget {
    if (ref === DEFAULT_NETWORK) return DEFAULT_TARGET;
    const n = this.repo.find(ref);
    if (!n || n.state !== 'ready') throw notFound(`no such network: ${ref}`, 'list networks with isola network ls, or make one with isola network create');
    return targetOf(n);
  }

  // ---- the network verbs -------------------------------------------------------------------

  async create(name: string, opts: { subnet?: string; gateway?: string } = {}): Promise<NetworkRecord> {
    if (!isValidName(name)) throw invalid(`invalid network name "${name}"`, 'use letters, digits, _ . and -, starting with a letter or digit');
    if (RESERVED.has(name)) throw invalid(`"${name}" is a built-in network name`, 'choose another name');
    if (opts.gateway !== undefined && opts.subnet === undefined) throw invalid('--gateway needs --subnet', 'give --subnet too, or leave --gateway out');
    const wanted = opts.subnet !== undefined ? checkSubnet(opts.subnet, opts.gateway) : null;
    return withNetLock(async () => {
      // Under the host-wide lock: another data root's bridge shows up in the host's routes.
      const routes = hostRoutes();
      const rec = this.repo.insert((subnets) => {
        const taken: { cidr: Cidr; what: string }[] = [
          ...subnets.map((s) => ({ cidr: parseCidr(s) as Cidr, what: `the subnet ${s} of another isola network` })),
          { cidr: parseCidr(SUBNET) as Cidr, what: `the default network's ${SUBNET}` },
          ...routes.map((r) => ({ cidr: r.dest, what: `the host's route to ${cidrText(r.dest)} (dev ${r.dev})` })),
        ];
        let subnet: Cidr;
        if (wanted) {
          const clash = taken.find((t) => cidrsOverlap(t.cidr, wanted.subnet));
          if (clash) throw invalid(`--subnet ${cidrText(wanted.subnet)} overlaps ${clash.what}`, 'choose a subnet that overlaps no other network, or leave --subnet out to get a free one');
          subnet = wanted.subnet;
        } else {
          subnet = nextFreeSubnet(taken.map((t) => t.cidr));
        }
        let id = newId();
        while (fs.existsSync(`/sys/class/net/${bridgeName(id)}`)) id = newId();
        return {
          id, name, subnet: cidrText(subnet), gateway: wanted?.gateway ?? intToIp(subnet.base + 1),
          bridge: bridgeName(id), createdAt: new Date().toISOString(), state: 'creating', owner: processRef(process.pid),
        };
      });
      try {
        await ensureBridgeLocked(targetOf(rec));
      } catch (e) {
        await removeBridgeLocked(targetOf(rec), { force: true }).catch(() => undefined);
        this.repo.delete(rec.id);
        throw e;
      }
      this.repo.markReady(rec.id);
      return { ...rec, state: 'ready', owner: null };
    });
  }

  /** The default network, `none`, and every user network. */
  list(): NetworkView[] {
    return [
      this.view(DEFAULT_TARGET, null),
      { id: 'none', name: 'none', driver: 'null', subnet: null, gateway: null, bridge: null, createdAt: null, instances: [] },
      ...this.repo.list().filter((n) => n.state === 'ready').map((n) => this.view(targetOf(n), n.createdAt)),
    ];
  }

  inspect(ref: string): NetworkView {
    if (ref === 'none') return this.list()[1] as NetworkView;
    return this.view(this.resolve(ref), ref === DEFAULT_NETWORK ? null : this.repo.find(ref)?.createdAt ?? null);
  }

  private view(t: NetworkTarget, createdAt: string | null): NetworkView {
    const instances = this.repo.endpointsOn(t.id).map((e) => {
      const rec = this.ctx.instances.get(e.instanceId);
      return { id: e.instanceId, name: rec?.name ?? '?', ip: e.ip, ifname: e.ifname, mac: macFor(e.instanceId, e.ifname) };
    });
    return { id: t.id, name: t.name, driver: 'bridge', subnet: t.subnet, gateway: t.gateway, bridge: t.bridge, createdAt, instances };
  }

  /** `network rm`: refused while an instance (in any state) is on it. */
  async remove(ref: string): Promise<NetworkRecord> {
    if (RESERVED.has(ref)) throw invalid(`the built-in network "${ref}" cannot be removed`, 'remove user networks only (isola network ls)');
    const n = this.repo.find(ref);
    if (!n) throw notFound(`no such network: ${ref}`, 'list networks with isola network ls');
    // The check and the delete in one write transaction: a create that is inserting an
    // instance on this network either lands before (and is seen) or finds the network gone.
    this.ctx.db.transaction(() => {
      const users = this.repo.endpointsOn(n.id);
      if (users.length > 0) {
        const names = users.map((u) => this.ctx.instances.get(u.instanceId)?.name ?? u.instanceId.slice(0, 12));
        throw new IsolaError('FAILED_PRECONDITION', `network ${n.name} is in use by ${names.join(', ')}`, `remove those instances, or disconnect them (isola network disconnect ${n.name} INSTANCE), then remove the network`);
      }
      this.repo.delete(n.id);
    }).immediate();
    await removeBridge(targetOf(n), { force: true });
    return n;
  }

  /** `network prune`: every user network no instance is on. */
  async prune(): Promise<NetworkRecord[]> {
    const removed: NetworkRecord[] = [];
    for (const n of this.repo.list()) {
      if (n.state !== 'ready' || this.repo.endpointsOn(n.id).length > 0) continue;
      try {
        removed.push(await this.remove(n.id));
      } catch (e) {
        if (!(e instanceof IsolaError && e.code === 'FAILED_PRECONDITION')) throw e; // joined meanwhile
      }
    }
    return removed;
  }

  /**
   * A create whose process died left a network `creating`: its bridge and rules are removed and
   * the record goes. Cheap when there is none.
   */
  async reconcile(): Promise<void> {
    for (const n of this.repo.list()) {
      if (n.state !== 'creating' || (n.owner && processAlive(n.owner))) continue;
      await removeBridge(targetOf(n), { force: true });
      this.repo.delete(n.id);
    }
  }

  /** `network connect NETWORK INSTANCE`: one more interface, now (a running container) or at the next start. */
  async connect(netRef: string, rec: InstanceRecord): Promise<BridgeNetworkSpec> {
    const t = this.resolve(netRef);
    const driver = this.ctx.driver(rec.kind);
    if (rec.spec.network.mode === 'none') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} was made with --network none`, 'make a new instance on the network with --network');
    if (rec.state === 'running' && !driver.attachNetwork) throw noHotplug(rec, 'connect');
    if (rec.state === 'creating' || rec.state === 'dead') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is ${rec.state}`, 'connect a created, running or stopped instance');
    if (bridgeNetworks(rec.spec).some((n) => (n.networkId ?? DEFAULT_NETWORK) === t.id)) {
      throw new IsolaError('ALREADY_EXISTS', `instance ${rec.name} is already connected to network ${t.name}`, `nothing to do; see its networks with isola inspect ${rec.name}`);
    }
    const made: { iface?: BridgeNetworkSpec; spec: InstanceSpec } = { spec: rec.spec };
    this.repo.addEndpoint(rec.id, t.id, (used, ifnames) => {
      if (t.id !== DEFAULT_NETWORK && this.repo.get(t.id)?.state !== 'ready') throw notFound(`no such network: ${netRef}`, 'list networks with isola network ls');
      if (ifnames.length >= MAX_INTERFACES) throw new IsolaError('RESOURCE_EXHAUSTED', `instance ${rec.name} has ${ifnames.length} interfaces already`, `an instance may have ${MAX_INTERFACES}; disconnect one first`);
      let i = 0;
      while (ifnames.includes(`eth${i}`)) i++;
      const iface = interfaceOn(t, rec.id, allocateIp(t, used), `eth${i}`);
      made.iface = iface;
      return { instanceId: rec.id, networkId: t.id, ip: iface.ip, ifname: iface.ifname ?? `eth${i}` };
    }, () => {
      const current = this.ctx.instances.get(rec.id)?.spec ?? rec.spec;
      made.spec = { ...current, moreNetworks: [...(current.moreNetworks ?? []), ...(made.iface ? [made.iface] : [])] };
      this.ctx.instances.setSpec(rec.id, made.spec);
    });
    const { iface, spec } = made;
    if (!iface) throw new Error('connect: no interface was made');
    // A container's namespace exists from create on: a created one gets the interface now too.
    if ((rec.state === 'running' || rec.state === 'created') && driver.attachNetwork) {
      try {
        await ensureBridge(iface);
        await driver.attachNetwork(spec, rec.data, iface);
      } catch (e) {
        this.repo.removeEndpoint(rec.id, t.id, () => this.ctx.instances.setSpec(rec.id, rec.spec));
        throw e;
      }
    }
    await this.refreshHosts([t.id, ...bridgeNetworks(spec).map((n) => n.networkId ?? DEFAULT_NETWORK)]);
    return iface;
  }

  /** `network disconnect NETWORK INSTANCE`. */
  async disconnect(netRef: string, rec: InstanceRecord): Promise<void> {
    const t = this.resolve(netRef);
    const driver = this.ctx.driver(rec.kind);
    const nets = bridgeNetworks(rec.spec);
    const iface = nets.find((n) => (n.networkId ?? DEFAULT_NETWORK) === t.id);
    if (!iface) throw notFound(`instance ${rec.name} is not connected to network ${t.name}`, `see its networks with isola inspect ${rec.name}`);
    if (rec.state === 'running' && !driver.detachNetwork) throw noHotplug(rec, 'disconnect');
    const first = nets[0] === iface;
    if (first && rec.state === 'running' && rec.ports.length > 0) {
      throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} publishes ports on its address in ${t.name}`, 'stop it first, then disconnect it');
    }
    const rest = nets.filter((n) => n !== iface);
    if (rest.length === 0 && rec.ports.length > 0) {
      throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} publishes ports and ${t.name} is its only network`, 'connect it to another network first, or remove it and run it without -p');
    }
    const spec: InstanceSpec = { ...rec.spec, network: rest[0] ?? { mode: 'none' }, moreNetworks: rest.slice(1) };
    if ((rec.state === 'running' || rec.state === 'created') && driver.detachNetwork) await driver.detachNetwork(spec, rec.data, iface, first ? rest[0] ?? null : null);
    this.repo.removeEndpoint(rec.id, t.id, () => this.ctx.instances.setSpec(rec.id, spec));
    // Its own files too: it is no longer a member of the network, whose names it must lose.
    await this.refreshHosts([t.id, ...rest.map((n) => n.networkId ?? DEFAULT_NETWORK)], [rec.id]);
  }

  // ---- names: /etc/hosts of every instance of a network ------------------------------------

  /** The other instances of the instance's user networks, each by name (none on the default network). */
  peersOf(spec: InstanceSpec): Peer[] {
    const out: Peer[] = [];
    for (const n of bridgeNetworks(spec)) {
      const id = n.networkId ?? DEFAULT_NETWORK;
      if (id === DEFAULT_NETWORK) continue;
      for (const e of this.repo.endpointsOn(id)) {
        if (e.instanceId === spec.id) continue;
        const r = this.ctx.instances.get(e.instanceId);
        if (!r) continue;
        out.push({ name: r.name, ip: e.ip, network: n.networkName ?? id });
        for (const alias of r.spec.aliases ?? []) out.push({ name: alias, ip: e.ip, network: n.networkName ?? id });
      }
    }
    return out;
  }

  /** Writes one instance's /etc files from the database as it is now. */
  writeEtc(spec: InstanceSpec, host: ResolvConf = readHostResolv()): boolean {
    return writeEtcFiles(spec, etcFilesFor(spec, this.peersOf(spec), host));
  }

  /**
   * Rewrites the /etc files of every instance on these networks (a name came or went), and hands
   * running instances with copies of their own (VMs) the new ones. One process at a time per
   * data root, each writing what the database says after its own change, so the last writer is
   * never stale.
   */
  async refreshHosts(networkIds: readonly string[], extra: readonly string[] = []): Promise<void> {
    const ids = [...new Set(networkIds)].filter((id) => id !== DEFAULT_NETWORK);
    if (ids.length === 0) {
      // No user network: no one else's file names these instances, and no lock is needed.
      const host = readHostResolv();
      for (const id of extra) {
        const rec = this.ctx.instances.get(id);
        if (rec) this.writeEtc(rec.spec, host);
      }
      return;
    }
    // In /run/isola, not in the data root: a lock a killed process left there is broken by the
    // next waiter and gone at the next boot, and leaves nothing in the data root.
    fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
    const lock = path.join(RUN_DIR, `hosts-${createHash('sha256').update(this.ctx.root).digest('hex').slice(0, 16)}.lock`);
    await withLock(lock, async () => {
      const host = readHostResolv();
      const members = new Set<string>(extra);
      for (const id of ids) for (const e of this.repo.endpointsOn(id)) members.add(e.instanceId);
      for (const instanceId of members) {
        const rec = this.ctx.instances.get(instanceId);
        if (!rec || !fs.existsSync(rec.spec.dir)) continue;
        const changed = this.writeEtc(rec.spec, host);
        const driver = this.ctx.driver(rec.kind);
        if (changed && rec.state === 'running' && driver.refreshEtc) {
          // A guest that does not answer keeps its old names; it gets the new ones at its next start.
          await driver.refreshEtc(rec.spec, rec.data).catch(() => undefined);
        }
      }
    });
  }
}

function noHotplug(rec: InstanceRecord, verb: string): IsolaError {
  return new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is a running ${rec.kind}: a VM's network interfaces are fixed while it runs (the microvm machine has no device hotplug)`,
    `stop it, ${verb} it, then start it again`);
}
