import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import type { AttachSession, ExecOptions, Kind, LogEntry, Stats } from '../core/types.js';
import type { AnyDriver, StartAttach } from '../drivers/driver.js';
import { Drivers } from '../drivers/registry.js';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import { pathsFor, type Paths } from '../core/paths.js';
import type { Config } from '../core/config.js';
import { CacheLayout } from '../core/cache-layout.js';
import { currentBootId, processAlive, processRef } from '../util/process.js';
import { privateDir } from '../util/fsx.js';
import { lockHeld } from '../util/lock.js';
import { openDb, type Db } from '../state/db.js';
import { InstanceRepo, type InstanceRecord } from '../state/instances.js';
import { ImageStore } from '../image/store.js';
import { BASE_REF, ensureBaseImage } from '../image/base.js';
import { normalizeRef } from '../image/ref.js';
import { isBuildCacheRef } from '../image/build/cache.js';
import type { RunRequest } from './request.js';
import { buildSpec } from './spec-builder.js';
import { diskImageFacts } from '../image/disk-image.js';
import { isValidName, newId, randomName } from './names.js';
import { assertPortFree, checkDistinct, exposedMappings, publishPorts, stopForwarders, unpublishPorts, type PortMapping } from '../net/publish.js';
import { ensureBridge } from '../net/bridge.js';
import { bridgeNetworks } from '../net/etc-files.js';
import { DEFAULT_NETWORK } from '../net/names.js';
import { Networks } from './networks.js';
import { VolumeRepo } from '../state/volumes.js';
import { Volumes, anonymousVolumes } from './volumes.js';
import { applyPlan, planMounts } from './mounts.js';
import { copyIn, copyOut, type CopyEnd, type CopyOptions } from './copy.js';
import type { Readable } from 'node:stream';
import { attachIO, followSession, type AttachClient } from './attach.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/isola.js');

/**
 * The engine: the lifecycle of instances and images, whatever their kind. It keeps SQLite in
 * step with what really runs (reconcile) and reaches every isolation kind through a Driver.
 */
export class Engine {
  readonly config: Config;
  readonly paths: Paths;
  readonly cache: CacheLayout;
  readonly db: Db;
  readonly instances: InstanceRepo;
  readonly drivers: Drivers;
  readonly volumes: Volumes;
  readonly networks: Networks;
  private store?: ImageStore;

  constructor(config: Config) {
    if (process.getuid?.() !== 0) {
      throw new IsolaError('PERMISSION_DENIED', 'isola must run as root: it creates namespaces, cgroups, mounts and network devices', 'run it with sudo, or as root');
    }
    this.config = config;
    const paths = pathsFor(config.root);
    this.paths = paths;
    this.cache = new CacheLayout(paths.cache);
    this.drivers = new Drivers(config);
    // Private: other users must not read instance configs (-e values), logs or the state, nor
    // enter the unpacked images (they keep their setuid binaries). 0700 all the way down.
    for (const d of [paths.root, paths.instances, paths.run, paths.cache, paths.tmp, paths.images, paths.volumes]) privateDir(d);
    this.db = openDb(paths.db);
    this.instances = new InstanceRepo(this.db);
    this.volumes = new Volumes(paths.volumes, new VolumeRepo(this.db), this.instances);
    this.networks = new Networks({ db: this.db, instances: this.instances, driver: (k) => this.driver(k), root: paths.root });
  }

  driver(kind: Kind): AnyDriver {
    return this.drivers.get(kind);
  }

  close(): void {
    this.db.close();
  }

  images(): ImageStore {
    this.store ??= new ImageStore(this.paths.images);
    return this.store;
  }

  /** The image for a reference; the embedded `base` image is built on first use. */
  async resolveImage(ref: string) {
    const store = this.images();
    if (normalizeRef(ref) === BASE_REF) await ensureBaseImage(store);
    return store.resolve(ref);
  }

  /**
   * Removes what the cache holds for images that are neither stored nor used by an instance,
   * and what interrupted builds left behind; resolves with the paths removed.
   */
  pruneCaches(): string[] {
    // A build's step images are not worth their unpacked roots once the build is over.
    const stored = this.images().list().filter((i) => !isBuildCacheRef(i.ref));
    const keep = new Set([...stored.map((i) => i.digest), ...this.instances.list().map((r) => r.imageDigest)]);
    const removed: string[] = [];
    for (const entry of this.cache.entries()) {
      if (keep.has(entry.imageDigest)) continue;
      fs.rmSync(entry.path, { recursive: true, force: true });
      fs.rmSync(this.cache.lock(entry.path), { recursive: true, force: true });
      removed.push(entry.path);
    }
    for (const lock of this.cache.locks()) {
      if (lockHeld(lock)) continue;
      fs.rmSync(lock, { recursive: true, force: true });
      removed.push(lock);
    }
    for (const stray of this.cache.strays()) {
      if (processAlive(stray.builderPid)) continue; // a build running now
      fs.rmSync(stray.path, { recursive: true, force: true });
      removed.push(stray.path);
    }
    for (const name of fs.readdirSync(this.paths.tmp)) {
      const pid = /-(\d+)-/.exec(name)?.[1];
      if (pid && processAlive(Number(pid))) continue;
      fs.rmSync(path.join(this.paths.tmp, name), { recursive: true, force: true });
      removed.push(path.join(this.paths.tmp, name));
    }
    this.images().collectGarbage({ partials: true });
    return removed;
  }

  // ---- instances ---------------------------------------------------------------------------

  find(ref: string): InstanceRecord {
    const rec = this.instances.find(ref);
    if (!rec) throw notFound(`no such instance: ${ref}`, 'list instances with isola ps --all');
    return rec;
  }

  /** Creates an instance (prepared, not started). Nothing is left behind when it fails. */
  async create(req: RunRequest): Promise<InstanceRecord> {
    if (req.name !== undefined && !isValidName(req.name)) {
      throw invalid(`invalid name "${req.name}"`, 'use letters, digits, _ . and -, starting with a letter or digit');
    }
    const target = req.network === 'none' ? null : this.networks.resolve(req.network);
    if ((req.publish.length > 0 || req.publishAll) && target === null) throw invalid('--publish needs a network, but --network none was given', 'drop -p/-P or use --network bridge');
    checkDistinct(req.publish);
    for (const m of req.publish) await assertPortFree(m);
    const driver = this.driver(req.kind);
    const image = await this.resolveImage(req.image);
    if (req.kind !== 'vm' && diskImageFacts(image.config)) {
      throw invalid(`image ${image.ref} is a whole-disk VM (a disk with its own bootloader), which only a VM can boot`, `run it with --as vm`);
    }
    if ((req.mounts ?? []).length > 0 && diskImageFacts(image.config)?.agent === false) {
      // Its own OS mounts what its fstab says: isola cannot place a shared folder in it.
      throw invalid(`image ${image.ref} boots its own OS, without isola's init, so it takes no -v, --mount or --tmpfs`, 'its own OS mounts what its fstab says; copy files in over its network');
    }
    const ports: PortMapping[] = [...req.publish, ...(req.publishAll ? exposedMappings(image.config.exposedPorts ?? [], req.publish) : [])];
    // Every mount is checked before anything is made; then -v's missing host folders are made.
    const plan = planMounts(req.mounts ?? [], req.kind);
    applyPlan(plan);
    const id = newId();
    const name = req.name ?? randomName();
    const cleanup = req.detach ? [process.execPath, BIN, '_cleanup', '--data-root', this.paths.root, id] : [];
    const madeVolumes: string[] = [];
    const rec = this.instances.insert((usedIps) => {
      if (target && target.id !== DEFAULT_NETWORK && this.networks.repo.get(target.id)?.state !== 'ready') {
        throw notFound(`no such network: ${req.network}`, 'it was removed meanwhile; list networks with isola network ls');
      }
      // Volumes are made in the instance's own insert: a `volume rm` either sees this instance
      // use the volume and refuses, or went first and this makes it again.
      for (const v of plan.volumes) if (this.volumes.repoEnsure(v.name, v.anonymous)) madeVolumes.push(v.name);
      for (const m of plan.mounts) if (m.type === 'volume' && m.volume) m.source = this.volumes.materialize(m.volume);
      const spec = buildSpec(this.paths, this.config.env, id, name, image, req, target, usedIps, cleanup, plan.mounts);
      return {
        id, name, kind: req.kind, imageRef: image.ref, imageDigest: image.digest, state: 'creating',
        createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, exitCode: null, oomKilled: false,
        ip: spec.network.mode === 'bridge' ? spec.network.ip : null, autoRemove: req.autoRemove, cleaned: false, spec, data: {}, ports,
        owner: processRef(process.pid), bootId: null,
      };
    });
    const nets = bridgeNetworks(rec.spec).map((n) => n.networkId ?? DEFAULT_NETWORK);
    try {
      privateDir(rec.spec.dir);
      privateDir(rec.spec.runDir);
      // Its /etc files, and its name in the /etc/hosts of the instances of its networks.
      await this.networks.refreshHosts(nets, [rec.id]);
      rec.data = await driver.create(rec.spec);
      this.instances.markCreated(id, rec.data);
      rec.state = 'created';
      return rec;
    } catch (e) {
      await driver.cleanup(rec.spec, null).catch(() => undefined);
      await driver.remove(rec.spec, null).catch(() => undefined);
      this.instances.delete(id);
      this.volumes.removeIfUnused(madeVolumes); // what this create made, unless another instance took it meanwhile
      await this.networks.refreshHosts(nets).catch(() => undefined);
      throw e;
    }
  }

  /** Starts a created instance; with `attach`, a client is connected before its first output. */
  async start(rec: InstanceRecord, attach?: StartAttach): Promise<InstanceRecord> {
    const driver = this.driver(rec.kind);
    try {
      // Every network's bridge and rules (a reboot or a flushed firewall took them), then the
      // published ports, before the workload can be reached.
      for (const n of bridgeNetworks(rec.spec)) await ensureBridge(n);
      if (rec.ports.length > 0 && rec.spec.network.mode === 'bridge') {
        rec.ports = await publishPorts(rec.id, rec.ports, rec.spec.network.ip);
        this.instances.setPorts(rec.id, rec.ports);
      }
      rec.data = await driver.start(rec.spec, rec.data, (data) => this.instances.setData(rec.id, data), attach);
    } catch (e) {
      if (rec.ports.length > 0) await unpublishPorts(rec.id).catch(() => undefined);
      // A workload that cannot start is an exit, as Docker records it (126/127).
      const code = e instanceof IsolaError && e.code === 'COMMAND_NOT_FOUND' ? 127 : e instanceof IsolaError && e.code === 'CANNOT_INVOKE' ? 126 : 125;
      this.instances.markExited(rec.id, code, false, new Date().toISOString());
      await this.settle(this.instances.get(rec.id) ?? rec);
      throw e;
    }
    const at = new Date().toISOString();
    if (!this.instances.markRunning(rec.id, rec.data, at, currentBootId())) {
      // It exited (a short command, and conmon's exit command was quicker) or was removed meanwhile.
      return this.instances.get(rec.id) ?? rec;
    }
    return { ...rec, state: 'running', startedAt: at };
  }

  /**
   * `isola run`: create, start, and (in the foreground) stream the workload's output until it
   * exits; resolves with its exit status. Signals to isola are passed on to the workload. With
   * -i or -t and a `client`, the client is attached to the workload's streams instead of the
   * log (its stdin, its terminal); when the client detaches, `detached` is true and the instance
   * keeps running.
   */
  async run(req: RunRequest, out: Writable, err: Writable, client?: AttachClient): Promise<{ rec: InstanceRecord; exitCode: number | null; detached?: boolean }> {
    let rec = await this.create(req);
    const attaching = !req.detach && client !== undefined && (req.tty === true || req.interactive === true);
    let session: AttachSession | null = null;
    const attach: StartAttach | undefined = attaching && client ? { ...attachIO(rec.spec, client), attached: (s) => (session = s) } : undefined;
    rec = await this.start(rec, attach);
    if (req.detach) return { rec, exitCode: null };
    const driver = this.driver(rec.kind);
    const forward = (sig: NodeJS.Signals) => void driver.kill(rec.spec, rec.data, sig).catch(() => undefined);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    try {
      const attached = session as AttachSession | null;
      if (attached && client && (await followSession(attached, client)) === 'detached') return { rec, exitCode: null, detached: true };
      const streaming = attached ? Promise.resolve() : this.pipeLogs(driver, rec, out, err);
      const exit = await driver.wait(rec.spec, rec.data);
      await streaming;
      this.instances.markExited(rec.id, exit.exitCode, exit.oomKilled, exit.finishedAt);
      await this.settle(this.instances.get(rec.id) ?? rec);
      return { rec, exitCode: exit.exitCode };
    } finally {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
  }

  /**
   * `isola attach`: connects a client to a running instance's streams until the workload exits
   * (resolves with its status) or the client detaches (null). Signals to isola are passed on.
   */
  async attach(ref: string, client: AttachClient): Promise<{ rec: InstanceRecord; exitCode: number | null }> {
    await this.reconcile();
    const rec = this.find(ref);
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'start it first (isola start); isola logs shows what it wrote');
    const driver = this.driver(rec.kind);
    const session = await driver.attach(rec.spec, rec.data, attachIO(rec.spec, client));
    const forward = (sig: NodeJS.Signals) => void driver.kill(rec.spec, rec.data, sig).catch(() => undefined);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    try {
      if ((await followSession(session, client)) === 'detached') return { rec, exitCode: null };
      const exit = await driver.wait(rec.spec, rec.data);
      this.instances.markExited(rec.id, exit.exitCode, exit.oomKilled, exit.finishedAt);
      await this.settle(this.instances.get(rec.id) ?? rec);
      return { rec, exitCode: exit.exitCode };
    } finally {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
  }

  private async pipeLogs(driver: AnyDriver, rec: InstanceRecord, out: Writable, err: Writable): Promise<void> {
    for await (const e of driver.logs(rec.spec, rec.data, { follow: true })) {
      (e.stream === 'stderr' ? err : out).write(e.partial ? e.text : `${e.text}\n`);
    }
  }

  /** After an exit: release runtime resources once, and remove the instance if it asked for it. */
  async settle(rec: InstanceRecord): Promise<void> {
    const driver = this.driver(rec.kind);
    stopForwarders(rec.ports);
    if (this.instances.claimCleanup(rec.id)) {
      if (rec.ports.length > 0) await unpublishPorts(rec.id);
      await driver.cleanup(rec.spec, rec.data);
    }
    if (rec.autoRemove) {
      await driver.remove(rec.spec, rec.data);
      this.instances.delete(rec.id);
      this.volumes.removeIfUnused(anonymousVolumes(rec.spec)); // as docker run --rm
      await this.networks.refreshHosts(bridgeNetworks(rec.spec).map((n) => n.networkId ?? DEFAULT_NETWORK));
    }
  }

  /**
   * Makes the database tell the truth about every instance that is not settled yet:
   * - a create whose process died (killed, crashed) before it finished: what it made is
   *   released and the instance is `dead`, for rm to remove;
   * - an instance started in an earlier boot: nothing it recorded runs now; it is settled as
   *   exited (255, as Docker records it) and nothing is signalled;
   * - one that exited while no isola process was watching: its real exit status, and cleanup;
   * - one whose start was cut short after its monitor was launched: running, as it is.
   */
  async reconcile(): Promise<void> {
    await this.networks.reconcile();
    const boot = currentBootId();
    for (const rec of this.instances.listUnsettled()) {
      const driver = this.driver(rec.kind);
      if (rec.state === 'creating') {
        if (rec.owner && processAlive(rec.owner)) continue; // being created right now
        await driver.cleanup(rec.spec, null).catch(() => undefined);
        this.instances.markDead(rec.id);
        continue;
      }
      if (rec.state === 'running' && rec.bootId !== null && rec.bootId !== boot) {
        this.instances.markExited(rec.id, 255, false, new Date().toISOString());
        await this.settle(this.instances.get(rec.id) ?? rec);
        continue;
      }
      const seen = rec.state === 'exited' ? null : await driver.observe(rec.spec, rec.data);
      if (seen?.state === 'running' && rec.state === 'created') this.instances.markRunning(rec.id, rec.data, rec.startedAt ?? new Date().toISOString(), boot);
      if (seen?.state === 'exited') this.instances.markExited(rec.id, seen.exit.exitCode, seen.exit.oomKilled, seen.exit.finishedAt);
      if (seen?.state === 'exited' || rec.state === 'exited') await this.settle(this.instances.get(rec.id) ?? rec);
    }
  }

  async list(all: boolean): Promise<InstanceRecord[]> {
    await this.reconcile();
    const recs = this.instances.list();
    return all ? recs : recs.filter((r) => r.state === 'running' || r.state === 'created');
  }

  async stop(ref: string, timeoutSec: number): Promise<InstanceRecord> {
    await this.reconcile();
    const rec = this.find(ref);
    if (rec.state === 'running') {
      const driver = this.driver(rec.kind);
      await driver.stop(rec.spec, rec.data, timeoutSec);
      const exit = await driver.wait(rec.spec, rec.data);
      this.instances.markExited(rec.id, exit.exitCode, exit.oomKilled, exit.finishedAt);
      await this.settle(this.instances.get(rec.id) ?? rec);
    }
    return this.instances.get(rec.id) ?? rec;
  }

  async kill(ref: string, signal: string): Promise<void> {
    const rec = this.find(ref);
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'nothing to signal');
    await this.driver(rec.kind).kill(rec.spec, rec.data, signal);
  }

  /** Removes an instance; with `volumes`, also its anonymous volumes (rm -v), as Docker does. */
  async remove(ref: string, force: boolean, volumes = false): Promise<string> {
    await this.reconcile();
    const rec = this.find(ref);
    const driver = this.driver(rec.kind);
    if (rec.state === 'creating') {
      throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is being created by process ${rec.owner?.pid ?? '?'}`, 'wait for it to finish, then remove it');
    }
    if (rec.state === 'running') {
      if (!force) throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is running`, 'stop it first (isola stop), or use isola rm -f');
      await driver.kill(rec.spec, rec.data, 'KILL').catch(() => undefined);
      const exit = await driver.wait(rec.spec, rec.data);
      this.instances.markExited(rec.id, exit.exitCode, exit.oomKilled, exit.finishedAt);
    }
    stopForwarders(rec.ports);
    if (rec.ports.length > 0) await unpublishPorts(rec.id);
    await driver.cleanup(rec.spec, rec.data);
    await driver.remove(rec.spec, rec.data);
    this.instances.delete(rec.id);
    if (volumes) this.volumes.removeIfUnused(anonymousVolumes(rec.spec));
    await this.networks.refreshHosts(bridgeNetworks(rec.spec).map((n) => n.networkId ?? DEFAULT_NETWORK));
    return rec.id;
  }

  async exec(ref: string, argv: string[], opts: ExecOptions): Promise<number> {
    await this.reconcile();
    const rec = this.find(ref);
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'start it first, or use isola run');
    return this.driver(rec.kind).exec(rec.spec, rec.data, argv, opts);
  }

  logs(rec: InstanceRecord, follow: boolean, signal?: AbortSignal): AsyncIterable<LogEntry> {
    return this.driver(rec.kind).logs(rec.spec, rec.data, { follow, ...(signal ? { signal } : {}) });
  }

  async stats(ref: string): Promise<{ rec: InstanceRecord; stats: Stats }> {
    const rec = this.find(ref);
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'stats are only available for running instances');
    return { rec, stats: await this.driver(rec.kind).stats(rec.spec, rec.data) };
  }

  /**
   * What an instance changed in its root file system, as an OCI layer tar (for build and
   * commit). Refused, with the reason, for kinds whose root file system the host cannot read.
   */
  async exportChanges(ref: string, tarFile: string): Promise<void> {
    await this.reconcile();
    const rec = this.find(ref);
    const driver = this.driver(rec.kind);
    if (!driver.exportChanges) {
      throw new IsolaError('FAILED_PRECONDITION', `the changes of ${rec.kind} instance ${rec.name} are inside its VM's disk, which isola does not read`, 'use a container (--as container) for build and commit');
    }
    await driver.exportChanges(rec.spec, rec.data, tarFile);
  }

  /**
   * `isola cp`: between a host path (or `-`, a tar on stdin/stdout) and a path in a running
   * instance, in either direction, with docker cp's rules (copy.ts).
   */
  async copy(src: CopyEnd, dest: CopyEnd, opts: CopyOptions, stdio: { stdin: Readable; stdout: Writable }): Promise<void> {
    if ('instance' in src && 'instance' in dest) throw invalid('isola cp copies between the host and an instance, not between two instances', 'copy to the host first, then into the other instance');
    if (!('instance' in src) && !('instance' in dest)) throw invalid('isola cp needs an instance on one side: INSTANCE:PATH', 'for example isola cp web:/etc/hosts ./hosts');
    await this.reconcile();
    const end = 'instance' in src ? src : (dest as { instance: string; path: string });
    const rec = this.find(end.instance);
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'isola cp copies in and out of running instances; start it first');
    const r = { spec: rec.spec, data: rec.data, driver: this.driver(rec.kind) };
    if ('instance' in src) await copyOut(r, src.path, (dest as { host: string }).host, opts, stdio.stdout);
    else await copyIn(r, src.host, end.path, opts, stdio.stdin);
  }

  /** Called by conmon's exit command (and by hand): records the exit and cleans up one instance. */
  async cleanupInstance(id: string): Promise<void> {
    const rec = this.instances.get(id);
    if (!rec) return;
    const seen = await this.driver(rec.kind).observe(rec.spec, rec.data);
    if (seen.state !== 'exited') return;
    this.instances.markExited(rec.id, seen.exit.exitCode, seen.exit.oomKilled, seen.exit.finishedAt);
    await this.settle(this.instances.get(rec.id) ?? rec);
  }
}
