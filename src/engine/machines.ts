import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import type { InstanceSpec, Observed } from '../core/types.js';
import { formatBytes } from '../core/units.js';
import { privateDir } from '../util/fsx.js';
import { processAlive, processRef } from '../util/process.js';
import { MachineRepo, type MachineRecord } from '../state/machines.js';
import type { InstanceRecord } from '../state/instances.js';
import type { MachineHost } from '../drivers/machine-host.js';
import { ensureBridge } from '../net/bridge.js';
import { DEFAULT_NETWORK } from '../net/names.js';
import { allocateIp, DEFAULT_TARGET, interfaceOn } from './networks.js';
import { isValidName, newId } from './names.js';
import type { Db } from '../state/db.js';
import type { InstanceRepo } from '../state/instances.js';
import type { Paths } from '../core/paths.js';
import type { CacheLayout } from '../core/cache-layout.js';
import type { Drivers } from '../drivers/registry.js';
import type { Config } from '../core/config.js';
import { spawnMachineWatcher, stopMachineWatcher } from './machine-watch.js';
import type { ProcessRef } from '../util/process.js';

/** What machines need of the engine (passed in, so this file does not import it). */
export interface MachineEngine {
  db: Db;
  paths: Paths;
  cache: CacheLayout;
  drivers: Drivers;
  instances: InstanceRepo;
  config: Config;
  stop(ref: string, timeoutSec?: number): Promise<unknown>;
  remove(ref: string, force: boolean): Promise<string>;
  reconcile(): Promise<void>;
}

/** The exit relay recorded with a running machine's data. */
const watcherOf = (m: MachineRecord): ProcessRef | null => ((m.data as { watcher?: ProcessRef | null }).watcher ?? null);

/** What `machine create` asks for. */
export interface MachineRequest {
  name: string;
  memoryBytes?: number;
  cpus?: number;
  diskBytes?: number;
}

export const MACHINE_DEFAULTS = { memoryBytes: 1024 * 1024 * 1024, cpus: 2, diskBytes: 4 * 1024 * 1024 * 1024 } as const;
/** Less than this cannot hold the guest kernel, init, runc and conmon with room for a container. */
export const MIN_MACHINE_MEMORY = 192 * 1024 * 1024;
/** RAM a machine's guest keeps for itself (kernel, init, conmon, runc while it starts one). */
export const MACHINE_OVERHEAD_BYTES = 96 * 1024 * 1024;

/** A machine as `machine ls` and `inspect` show it: the record, what is true now, and its containers. */
export interface MachineView {
  id: string;
  name: string;
  state: 'running' | 'stopped';
  createdAt: string;
  ip: string;
  memoryBytes: number;
  cpus: number;
  diskBytes: number;
  accelerator: string | null;
  consoleLog: string | null;
  /** Host memory its VMM (and image share) use now; null when stopped. */
  hostMemoryBytes: number | null;
  containers: { id: string; name: string; state: string }[];
}

/**
 * Machines (`isola machine`): long-lived VMs that host containers (`run --machine`). Records in
 * the machines table (written before anything waits on what was started), the VM through the
 * drivers' MachineHost, the containers in it through the engine. Every verb reconciles first:
 * a machine whose VM is gone is cleaned up and recorded stopped; a record its creating process
 * left half-made is removed with whatever it made.
 */
export class Machines {
  readonly repo: MachineRepo;

  constructor(private readonly engine: MachineEngine) {
    this.repo = new MachineRepo(engine.db);
  }

  private host(): Promise<MachineHost> {
    return this.engine.drivers.machines();
  }

  find(ref: string): MachineRecord {
    const m = this.repo.find(ref);
    if (!m || m.state === 'creating') throw notFound(`no such machine: ${ref}`, 'list machines with isola machine ls');
    return m;
  }

  /** The instances placed in a machine. */
  containersOf(m: MachineRecord): InstanceRecord[] {
    return this.engine.instances.list().filter((r) => r.spec.machine?.id === m.id);
  }

  private vmSpec(id: string, name: string, ip: string, req: Required<MachineRequest>): InstanceSpec {
    const dir = path.join(this.engine.paths.root, 'machines', id);
    const network = interfaceOn(DEFAULT_TARGET, id, ip, 'eth0');
    return {
      id, name, kind: 'vm',
      image: { ref: 'isola-machine', digest: `sha256:${id}`, layers: [], layerDigests: [], config: { env: [], entrypoint: [], cmd: [], workingDir: '/', user: '' } },
      argv: ['/bin/sh', '/.isola/machine'],
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      workdir: '/', user: '', hostname: name,
      memoryBytes: req.memoryBytes, cpus: req.cpus, readOnly: false, network,
      security: { privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true },
      runtime: 'runc', dir, runDir: path.join(this.engine.paths.run, 'm', id.slice(0, 12)), cleanupCommand: [],
      // The image roots isola unpacks (read-only), the machine's container folder (configs, logs,
      // exit files) and its volume folder (its containers' host folders, bound there while they run).
      mounts: [
        { type: 'bind', source: this.engine.cache.folder('rootfs'), target: '/.isola/images', readOnly: true, propagation: 'rprivate' },
        { type: 'bind', source: path.join(dir, 'c'), target: '/.isola/m', readOnly: false, propagation: 'rprivate' },
        { type: 'bind', source: path.join(dir, 'v'), target: '/.isola/v', readOnly: false, propagation: 'rprivate' },
      ],
    };
  }

  async create(req: MachineRequest): Promise<MachineView> {
    if (!isValidName(req.name)) throw invalid(`invalid machine name "${req.name}"`, 'use letters, digits, _ . and -, starting with a letter or digit');
    const want = { memoryBytes: req.memoryBytes ?? MACHINE_DEFAULTS.memoryBytes, cpus: req.cpus ?? MACHINE_DEFAULTS.cpus, diskBytes: req.diskBytes ?? MACHINE_DEFAULTS.diskBytes, name: req.name };
    if (want.memoryBytes < MIN_MACHINE_MEMORY) throw invalid(`-m ${formatBytes(want.memoryBytes)} is too small for a machine`, `give it at least -m ${MIN_MACHINE_MEMORY / 1024 / 1024}m`);
    if (want.diskBytes < 256 * 1024 * 1024) throw invalid(`--disk ${formatBytes(want.diskBytes)} is too small for a machine`, 'give it at least --disk 256m');
    await this.reconcile();
    const id = newId();
    const rec = this.repo.insert(DEFAULT_NETWORK, (used) => {
      const ip = allocateIp(DEFAULT_TARGET, used);
      return { id, name: req.name, state: 'creating', createdAt: new Date().toISOString(), networkId: DEFAULT_NETWORK, ip, spec: this.vmSpec(id, req.name, ip, want), data: {}, owner: processRef(process.pid) };
    });
    const host = await this.host();
    try {
      privateDir(path.dirname(rec.spec.dir));
      privateDir(rec.spec.dir);
      fs.mkdirSync(path.join(rec.spec.dir, 'c'), { recursive: true, mode: 0o700 });
      fs.mkdirSync(path.join(rec.spec.dir, 'v'), { recursive: true, mode: 0o700 });
      fs.mkdirSync(this.engine.cache.folder('rootfs'), { recursive: true });
      fs.mkdirSync(rec.spec.runDir, { recursive: true, mode: 0o700 });
      rec.data = await host.create(rec.spec, want.diskBytes);
      this.repo.setData(id, rec.data, 'stopped');
    } catch (e) {
      await host.cleanup(rec.spec, null).catch(() => undefined);
      await host.remove(rec.spec, null).catch(() => undefined);
      this.repo.delete(id);
      throw e;
    }
    return this.start(id);
  }

  async start(ref: string): Promise<MachineView> {
    const m = this.find(ref);
    const host = await this.host();
    if ((await host.observe(m.spec, m.data)).state === 'running') throw new IsolaError('FAILED_PRECONDITION', `machine ${m.name} is already running`, 'stop it first, or use it as it is');
    await host.cleanup(m.spec, m.data); // what an earlier run left (a tap, shares)
    await ensureBridge(m.spec.network.mode === 'bridge' ? m.spec.network : (() => { throw new IsolaError('INTERNAL', 'a machine without a network', 'report this bug'); })());
    fs.mkdirSync(m.spec.runDir, { recursive: true, mode: 0o700 });
    try {
      const data = await host.start(m.spec, m.data, (d) => this.repo.setData(m.id, d));
      this.repo.setData(m.id, data, 'running');
      // Its exit relay: records its containers' exits as they happen (conmon is in the guest).
      const watcher = spawnMachineWatcher(this.engine.config, this.engine.paths.root, m.id);
      this.repo.setData(m.id, { ...data, watcher });
    } catch (e) {
      await host.cleanup(m.spec, this.repo.get(m.id)?.data ?? m.data).catch(() => undefined);
      this.repo.setState(m.id, 'stopped');
      throw e;
    }
    return this.view(this.find(m.id));
  }

  /** Stops its containers (each recorded as stopped, with `timeoutSec`), then the machine. */
  async stop(ref: string, timeoutSec = 10): Promise<MachineView> {
    const m = this.find(ref);
    const host = await this.host();
    for (const c of this.containersOf(m)) {
      if (c.state === 'running') await this.engine.stop(c.id, timeoutSec).catch(() => undefined);
    }
    if ((await host.observe(m.spec, m.data)).state === 'running') await host.stop(m.spec, m.data, timeoutSec);
    await host.cleanup(m.spec, m.data);
    stopMachineWatcher(watcherOf(m));
    this.repo.setState(m.id, 'stopped');
    // Containers the machine took down with it (a container that ignored the stop): their exits.
    await this.engine.reconcile();
    return this.view(this.find(m.id));
  }

  /** Refused while containers are placed in it, unless `force`, which removes them first. */
  async remove(ref: string, force: boolean): Promise<string> {
    const m = this.find(ref);
    const inside = this.containersOf(m);
    if (inside.length > 0 && !force) {
      throw new IsolaError('FAILED_PRECONDITION', `machine ${m.name} still has ${inside.length} container(s): ${inside.map((c) => c.name).join(', ')}`, `remove them first, or use isola machine rm -f ${m.name}, which removes them`);
    }
    for (const c of inside) await this.engine.remove(c.id, true);
    const host = await this.host();
    if ((await host.observe(m.spec, m.data)).state === 'running') {
      if (!force) throw new IsolaError('FAILED_PRECONDITION', `machine ${m.name} is running`, `stop it first (isola machine stop ${m.name}), or use isola machine rm -f`);
      await host.stop(m.spec, m.data, 0).catch(() => undefined);
    }
    await host.cleanup(m.spec, m.data);
    stopMachineWatcher(watcherOf(this.repo.get(m.id) ?? m));
    await host.remove(m.spec, m.data);
    fs.rmSync(m.spec.runDir, { recursive: true, force: true });
    this.repo.delete(m.id);
    return m.name;
  }

  /**
   * Settles every machine with reality: a 'creating' record whose process is gone is removed with
   * what it made; a machine recorded running whose VM is gone is cleaned up and recorded stopped.
   */
  async reconcile(): Promise<string[]> {
    const fixed: string[] = [];
    const host = await this.host();
    for (const m of this.repo.list()) {
      if (m.state === 'creating') {
        if (m.owner && processAlive(m.owner)) continue;
        await host.cleanup(m.spec, null).catch(() => undefined);
        await host.remove(m.spec, null).catch(() => undefined);
        fs.rmSync(m.spec.runDir, { recursive: true, force: true });
        this.repo.delete(m.id);
        fixed.push(m.name);
        continue;
      }
      const o = await this.observeSafe(host, m);
      if (m.state === 'running' && o.state !== 'running') {
        await host.cleanup(m.spec, m.data).catch(() => undefined);
        stopMachineWatcher(watcherOf(m));
        this.repo.setState(m.id, 'stopped');
        fixed.push(m.name);
      }
    }
    return fixed;
  }

  private async observeSafe(host: MachineHost, m: MachineRecord): Promise<Observed> {
    try {
      return await host.observe(m.spec, m.data);
    } catch {
      return { state: 'created' };
    }
  }

  async list(): Promise<MachineView[]> {
    await this.reconcile();
    return Promise.all(this.repo.list().filter((m) => m.state !== 'creating').map((m) => this.view(m)));
  }

  async inspect(ref: string): Promise<MachineView> {
    await this.reconcile();
    return this.view(this.find(ref));
  }

  /** A machine must exist and run for a container to be placed in it; its memory bounds the container's. */
  async placement(ref: string, memoryBytes: number | undefined): Promise<{ id: string; name: string; ip: string }> {
    await this.reconcile();
    const m = this.repo.find(ref);
    if (!m || m.state === 'creating') throw notFound(`no such machine: ${ref}`, 'create it with isola machine create NAME, or list machines with isola machine ls');
    if (m.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `machine ${m.name} is not running`, `start it first: isola machine start ${m.name}`);
    const room = (m.spec.memoryBytes ?? 0) - MACHINE_OVERHEAD_BYTES;
    if (memoryBytes !== undefined && memoryBytes > room) {
      throw invalid(`-m ${formatBytes(memoryBytes)} is more than machine ${m.name} has for its containers (${formatBytes(room)} of its ${formatBytes(m.spec.memoryBytes ?? 0)})`, `give at most -m ${Math.floor(room / 1024 / 1024)}m, or create a larger machine (isola machine create NAME -m SIZE)`);
    }
    return { id: m.id, name: m.name, ip: m.ip };
  }

  private async view(m: MachineRecord): Promise<MachineView> {
    const host = await this.host();
    const running = (await this.observeSafe(host, m)).state === 'running';
    const d = m.data as { accelerator?: string; consoleLog?: string };
    const disk = (() => {
      try {
        return fs.statSync(path.join(m.spec.dir, 'system.ext4')).size;
      } catch {
        return 0;
      }
    })();
    return {
      id: m.id, name: m.name, state: running ? 'running' : 'stopped', createdAt: m.createdAt, ip: m.ip,
      memoryBytes: m.spec.memoryBytes ?? 0, cpus: m.spec.cpus ?? 1, diskBytes: disk,
      accelerator: d.accelerator ?? null, consoleLog: d.consoleLog ?? null,
      hostMemoryBytes: running ? await host.hostMemoryBytes(m.spec, m.data).catch(() => null) : null,
      containers: this.containersOf(m).map((c) => ({ id: c.id, name: c.name, state: c.state })),
    };
  }
}
