import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import type { AttachSession, ExecOptions, ExitInfo, InstanceSpec, Kind, LogEntry, ProcessInfo, ResourceUpdate, RestartPolicy, Stats } from '../core/types.js';
import type { AnyDriver, StartAttach } from '../drivers/driver.js';
import { Drivers } from '../drivers/registry.js';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import { pathsFor, type Paths } from '../core/paths.js';
import type { Config } from '../core/config.js';
import { CacheLayout } from '../core/cache-layout.js';
import { currentBootId, processAlive, processRef, signalProcess, type ProcessRef } from '../util/process.js';
import { privateDir } from '../util/fsx.js';
import { lockHeld, withLock } from '../util/lock.js';
import { openDb, type Db } from '../state/db.js';
import { InstanceRepo, lifeOf, type InstanceRecord, type PendingRestart } from '../state/instances.js';
import { EventRepo } from '../state/events.js';
import { nextBackoff, shouldRestart } from './restart-policy.js';
import { startingHealth } from './health.js';
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
import { placeInMachine } from './placement.js';
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
  readonly events: EventRepo;
  readonly drivers: Drivers;
  readonly volumes: Volumes;
  readonly networks: Networks;
  private store?: ImageStore;
  /**
   * What this process does with a restart the policy asks for: `self` waits for its back-off and
   * does it (the monitor's exit command, `isola _restart`, which outlive nothing but themselves);
   * `spawn` hands it to a detached `isola _restart` (every short-lived command).
   */
  restartMode: 'self' | 'spawn' = 'spawn';
  /**
   * Instance locks the current call chain holds: lifecycle steps nest (start records an exit,
   * which settles). Per async call chain, not per process: a long-lived process (isola serve)
   * runs many requests at once, and one request's lock must exclude another's.
   */
  private readonly held = new AsyncLocalStorage<ReadonlySet<string>>();

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
    this.events = new EventRepo(this.db);
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
    const placedIn = req.machine !== undefined ? await placeInMachine(this, req) : undefined;
    const target = req.network === 'none' ? null : this.networks.resolve(req.network);
    if ((req.publish.length > 0 || req.publishAll) && target === null) throw invalid('--publish needs a network, but --network none was given', 'drop -p/-P or use --network bridge');
    checkDistinct(req.publish);
    if (req.autoRemove && req.restart && req.restart.name !== 'no') throw invalid('--restart and --rm conflict: an instance that removes itself when it exits cannot be restarted', 'drop one of them');
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
    // A foreground run with a restart policy also gets the exit command: the restarts go on after
    // the foreground process has returned the first exit status, as with Docker.
    const managed = req.detach || (req.restart !== undefined && req.restart.name !== 'no');
    const cleanup = managed ? [process.execPath, BIN, '_cleanup', '--data-root', this.paths.root, id] : [];
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
      if (placedIn) spec.machine = placedIn;
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
      this.event(rec, 'create');
      return this.instances.get(id) ?? rec;
    } catch (e) {
      await driver.cleanup(rec.spec, null).catch(() => undefined);
      await driver.remove(rec.spec, null).catch(() => undefined);
      this.instances.delete(id);
      this.volumes.removeIfUnused(madeVolumes); // what this create made, unless another instance took it meanwhile
      await this.networks.refreshHosts(nets).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Starts a created instance (also one reopened for a new run: see startInstance, restarts);
   * with `attach`, a client is connected before its first output.
   */
  async start(rec: InstanceRecord, attach?: StartAttach): Promise<InstanceRecord> {
    return this.locked(rec, async () => {
      const driver = this.driver(rec.kind);
      try {
        // Every network's bridge and rules (a reboot or a flushed firewall took them), then the
        // published ports, before the workload can be reached.
        for (const n of bridgeNetworks(rec.spec)) await ensureBridge(n);
        // A container placed in a machine before containers had their own address: the machine's.
        const reachAt = rec.spec.network.mode === 'bridge' ? rec.spec.network.ip : rec.spec.machine?.netns ? undefined : rec.spec.machine?.ip;
        if (rec.ports.length > 0 && reachAt) {
          rec.ports = await publishPorts(rec.id, rec.ports, reachAt);
          this.instances.setPorts(rec.id, rec.ports);
        }
        rec.data = await driver.start(forThisRun(rec.spec, lifeOf(rec).runSeq), rec.data, (data) => this.instances.setData(rec.id, data), attach);
      } catch (e) {
        if (rec.ports.length > 0) await unpublishPorts(rec.id).catch(() => undefined);
        // A workload that cannot start is an exit, as Docker records it (126/127).
        const code = e instanceof IsolaError && e.code === 'COMMAND_NOT_FOUND' ? 127 : e instanceof IsolaError && e.code === 'CANNOT_INVOKE' ? 126 : 125;
        await this.recordExit(rec, { exitCode: code, oomKilled: false, finishedAt: new Date().toISOString() });
        throw e;
      }
      const at = new Date().toISOString();
      if (!this.instances.markRunning(rec.id, rec.data, at, currentBootId())) {
        // It exited (a short command, and conmon's exit command was quicker) or was removed meanwhile.
        return this.instances.get(rec.id) ?? rec;
      }
      this.event(rec, 'start');
      if (rec.spec.health) this.startHealthChecker(rec);
      return this.instances.get(rec.id) ?? { ...rec, state: 'running', startedAt: at };
    });
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
      const exited = driver.wait(rec.spec, rec.data);
      // The follow hears of the exit from the wait: a VM's end changes no file it watches.
      const streaming = attached ? Promise.resolve() : this.pipeLogs(driver, rec, out, err, exited);
      const exit = await exited;
      await streaming;
      await this.recordExit(rec, exit);
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
      await this.recordExit(rec, exit);
      return { rec, exitCode: exit.exitCode };
    } finally {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    }
  }

  private async pipeLogs(driver: AnyDriver, rec: InstanceRecord, out: Writable, err: Writable, writerGone: Promise<unknown>): Promise<void> {
    for await (const e of driver.logs(rec.spec, rec.data, { follow: true, writerGone })) {
      (e.stream === 'stderr' ? err : out).write(e.partial ? e.text : `${e.text}\n`);
    }
  }

  /** After an exit: release runtime resources once, and remove the instance if it asked for it. */
  async settle(rec: InstanceRecord): Promise<void> {
    await this.locked(rec, async () => {
      const driver = this.driver(rec.kind);
      stopForwarders(rec.ports);
      this.endHealthChecker(rec);
      if (this.instances.claimCleanup(rec.id)) {
        if (rec.ports.length > 0) await unpublishPorts(rec.id);
        await driver.cleanup(rec.spec, rec.data);
      }
      if (rec.autoRemove) {
        await driver.remove(rec.spec, rec.data);
        this.instances.delete(rec.id);
        this.event(rec, 'destroy');
        this.volumes.removeIfUnused(anonymousVolumes(rec.spec)); // as docker run --rm
        await this.networks.refreshHosts(bridgeNetworks(rec.spec).map((n) => n.networkId ?? DEFAULT_NETWORK));
      }
    });
  }

  /**
   * The one place an exit is recorded (the monitor's exit command, a foreground run, stop, a
   * reconcile): the status of that run only, its events, the release of what it held, and the
   * restart its policy asks for.
   */
  private async recordExit(rec: InstanceRecord, exit: ExitInfo): Promise<void> {
    // Under the lock: an exit seen while its start is still being recorded waits for it, so
    // `start` comes before `die`, and the start's own bookkeeping is never cut in two.
    await this.locked(rec, async () => {
      if (this.instances.markExited(rec.id, exit.exitCode, exit.oomKilled, exit.finishedAt, lifeOf(rec).runSeq)) {
        if (exit.oomKilled) this.event(rec, 'oom');
        this.event(rec, 'die', { exitCode: String(exit.exitCode) });
      }
      const now = this.instances.get(rec.id);
      if (now) await this.settle(now);
    });
    const after = this.instances.get(rec.id);
    if (after) await this.considerRestart(after);
  }

  // ---- restart policies, without a daemon (docs/LIFECYCLE.md) ------------------------------

  /**
   * Schedules the restart the policy asks for after this exit, once per run: the delay is the
   * back-off, the owner is this process (restartMode self) or a detached `isola _restart`.
   */
  private async considerRestart(rec: InstanceRecord, opts: { afterReboot?: boolean; owner?: ProcessRef | null } = {}): Promise<boolean> {
    const life = lifeOf(rec);
    if (rec.state !== 'exited' || life.restart || rec.autoRemove) return false;
    if (!shouldRestart(rec.spec.restart, { exitCode: rec.exitCode ?? 0, restartCount: life.restartCount, stoppedByUser: life.stoppedByUser, afterReboot: !!opts.afterReboot })) return false;
    const ran = rec.startedAt && rec.finishedAt ? Date.parse(rec.finishedAt) - Date.parse(rec.startedAt) : 0;
    const delay = opts.afterReboot ? 0 : nextBackoff(life.backoffMs, ran);
    const owner = opts.owner !== undefined ? opts.owner : this.restartMode === 'self' ? processRef(process.pid) : null;
    const now = new Date();
    const pending: PendingRestart = { due: new Date(now.getTime() + delay).toISOString(), since: now.toISOString(), owner };
    if (!this.instances.scheduleRestart(rec.id, life.runSeq, pending, delay, !!opts.afterReboot)) return false;
    if (!owner) this.spawnRestarter(rec.id);
    return true;
  }

  /** A detached `isola _restart ID`, which claims the pending restart and does it when due. */
  private spawnRestarter(id: string): void {
    const child = spawn(process.execPath, [BIN, '_restart', '--data-root', this.paths.root, id], { detached: true, stdio: 'ignore', env: { ...this.config.env } });
    child.unref();
  }

  /** Makes this process the owner of the instance's pending restart (for `isola _restart`). */
  claimRestart(id: string): boolean {
    const me = processRef(process.pid);
    return me !== null && this.instances.claimRestart(id, me, (p) => processAlive(p));
  }

  /**
   * While this process owns the instance's pending restart: wait for its back-off, then do it;
   * a restart whose start fails is an exit like any other and may schedule the next one.
   */
  async keepRestarting(id: string): Promise<void> {
    const me = processRef(process.pid);
    for (;;) {
      const rec = this.instances.get(id);
      const p = rec ? lifeOf(rec).restart : null;
      if (!me || !p || !sameProcess(p.owner, me)) return;
      const wait = Date.parse(p.due) - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!(await this.performRestart(id))) return;
    }
  }

  /** The pending restart, if it is still ours and still wanted: a new run of the same instance. */
  private async performRestart(id: string, atBoot = false): Promise<boolean> {
    const first = this.instances.get(id);
    if (!first) return false;
    const me = processRef(process.pid);
    return this.locked(first, async () => {
      let rec = this.instances.get(id);
      const p = rec ? lifeOf(rec).restart : null;
      if (!rec || rec.state !== 'exited' || !p || !me || !sameProcess(p.owner, me)) return false;
      if (!rec.cleaned) await this.settle(rec);
      if (!this.instances.reopen(id, lifeOf(rec).runSeq, false, atBoot)) return false;
      rec = this.instances.get(id);
      if (!rec) return false;
      this.event(rec, 'restart', { restartCount: String(lifeOf(rec).restartCount) });
      await this.start(rec).catch(() => undefined); // a start that fails was recorded as an exit
      return true;
    });
  }

  /** Ends the process waiting to do a restart that is no longer wanted (never this one). */
  private endRestarter(p: PendingRestart | null): void {
    if (!p?.owner || p.owner.pid === process.pid) return;
    signalProcess(p.owner, 'SIGTERM', { cmdlineIncludes: BIN });
  }

  /**
   * After a reboot (run at boot by contrib/systemd/isola-boot.service): reconcile settles what
   * the reboot ended, then the instances whose policy says so start again: `always` ones (even
   * stopped by the user, as Docker does when its daemon starts), `unless-stopped` ones the user
   * did not stop, `on-failure` ones within their count (the reboot's 255 is a failure).
   */
  async boot(): Promise<InstanceRecord[]> {
    await this.reconcile();
    const boot = currentBootId();
    const me = processRef(process.pid);
    const restarted: InstanceRecord[] = [];
    for (const rec of this.instances.listWithRestartPolicy()) {
      if (rec.state !== 'exited' || rec.bootId === null || rec.bootId === boot || lifeOf(rec).restart) continue;
      if (!(await this.considerRestart(rec, { afterReboot: true, owner: me }))) continue;
      if (await this.performRestart(rec.id, true)) restarted.push(this.instances.get(rec.id) ?? rec);
    }
    return restarted;
  }

  // ---- health checks -----------------------------------------------------------------------

  /** A detached `isola _health` for this run, recorded before anything waits on it. */
  private startHealthChecker(rec: InstanceRecord): void {
    const seq = lifeOf(rec).runSeq;
    this.instances.setHealth(rec.id, seq, startingHealth());
    const child = spawn(process.execPath, ['--max-old-space-size=32', '--max-semi-space-size=1', BIN, '_health', '--data-root', this.paths.root, rec.id, String(seq)], {
      detached: true, stdio: 'ignore', env: { ...this.config.env },
    });
    child.unref();
    const ref = processRef(child.pid);
    if (ref) this.instances.updateHealth(rec.id, seq, (h) => (h && !h.checker ? { ...h, checker: ref } : h));
  }

  /** Ends the instance's health checker: as recorded, and any other naming it (a record cut short). */
  private endHealthChecker(rec: InstanceRecord): void {
    if (!rec.spec.health) return;
    const recorded = lifeOf(rec).health?.checker;
    if (recorded && recorded.pid !== process.pid) signalProcess(recorded, 'SIGTERM', { cmdlineIncludes: '_health' });
    for (const pid of findProcesses(['_health', rec.id])) if (pid !== process.pid) signalProcess(processRef(pid), 'SIGTERM');
  }

  // ---- locks and events --------------------------------------------------------------------

  /**
   * Runs fn holding the instance's lock (a folder in its instance folder, util/lock.ts's
   * policy): start, settle, restart, stop, pause and rm of one instance never interleave, so a
   * cleanup cannot undo a start that follows it. Re-entrant within this process.
   */
  async locked<T>(rec: InstanceRecord, fn: () => Promise<T>): Promise<T> {
    const held = this.held.getStore();
    if (held?.has(rec.id) || !fs.existsSync(rec.spec.dir)) return fn();
    try {
      return await this.held.run(new Set([...(held ?? []), rec.id]), () => withLock(path.join(rec.spec.dir, 'lock'), fn));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(rec.spec.dir)) throw notFound(`instance ${rec.name} was removed meanwhile`, 'list instances with isola ps --all');
      throw e;
    }
  }

  /** Records an event in Docker's words (type `container` for every kind). */
  event(rec: Pick<InstanceRecord, 'id' | 'name' | 'imageRef' | 'kind'> & { spec?: { labels?: Record<string, string> } }, action: string, attributes: Record<string, string> = {}): void {
    // Labels are attributes of their own, as Docker records them (`--filter label=k=v` matches them).
    this.events.add('container', action, rec.id, { ...(rec.spec?.labels ?? {}), name: rec.name, image: rec.imageRef, kind: rec.kind, ...attributes });
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
      try {
        await this.reconcileOne(rec, boot);
      } catch (e) {
        // Removed by another process while this one looked (an `rm` elsewhere deletes the lock
        // folder with the instance's folder, so it no longer looks busy, then the record): its
        // folder or its record gone, it is theirs to finish.
        if (!this.instances.get(rec.id) || !fs.existsSync(rec.spec.dir)) continue;
        throw e;
      }
    }
    // Restarts the policy asks for that nobody is doing: an exit recorded by a process that died
    // before it scheduled the restart, or a waiting restarter that was killed. Instances of an
    // earlier boot are left to `isola system boot`.
    for (const rec of this.instances.listWithRestartPolicy()) {
      if (rec.state !== 'exited' || rec.bootId !== boot) continue;
      const p = lifeOf(rec).restart;
      if (!p) await this.considerRestart(rec);
      else if (p.owner ? !processAlive(p.owner) : Date.now() - Date.parse(p.since) > ORPHANED_RESTART_MS) this.spawnRestarter(rec.id);
    }
  }

  private async reconcileOne(rec: InstanceRecord, boot: string): Promise<void> {
    // Someone is starting, stopping or settling it right now: theirs to finish.
    if (!this.held.getStore()?.has(rec.id) && lockHeld(path.join(rec.spec.dir, 'lock'))) return;
    const driver = this.driver(rec.kind);
    if (rec.state === 'creating') {
      if (rec.owner && processAlive(rec.owner)) return; // being created right now
      await driver.cleanup(rec.spec, null).catch(() => undefined);
      this.instances.markDead(rec.id);
      return;
    }
    if (rec.state === 'running' && rec.bootId !== null && rec.bootId !== boot) {
      if (this.instances.markExited(rec.id, 255, false, new Date().toISOString(), lifeOf(rec).runSeq)) this.event(rec, 'die', { exitCode: '255' });
      await this.settle(this.instances.get(rec.id) ?? rec);
      return;
    }
    const seen = rec.state === 'exited' ? null : await driver.observe(rec.spec, rec.data);
    if (seen?.state === 'running' && rec.state === 'created') {
      if (this.instances.markRunning(rec.id, rec.data, rec.startedAt ?? new Date().toISOString(), boot)) this.event(rec, 'start');
    }
    if (seen?.state === 'exited') await this.recordExit(rec, seen.exit);
    else if (rec.state === 'exited') await this.settle(rec);
  }

  /** Running and created instances and those waiting to restart; with `all`, every one. */
  async list(all: boolean): Promise<InstanceRecord[]> {
    await this.reconcile();
    const recs = this.instances.list();
    return all ? recs : recs.filter((r) => r.state === 'running' || r.state === 'created' || lifeOf(r).restart !== null);
  }

  /**
   * `isola stop`: the stop signal, SIGKILL after the timeout (-t, else the instance's
   * --stop-timeout, else 10 s). Stopped by the user, it is not restarted by its policy (nor is a
   * restart that was waiting for its back-off done).
   */
  async stop(ref: string, timeoutSec?: number): Promise<InstanceRecord> {
    await this.reconcile();
    const found = this.find(ref);
    this.endRestarter(this.instances.markStoppedByUser(found.id));
    await this.locked(found, async () => {
      const rec = this.instances.get(found.id);
      if (rec?.state !== 'running') return;
      const driver = this.driver(rec.kind);
      await this.resumeIfPaused(rec);
      await driver.stop(rec.spec, rec.data, timeoutSec ?? rec.spec.stopTimeout ?? DEFAULT_STOP_TIMEOUT_S);
      const exit = await driver.wait(rec.spec, rec.data);
      await this.recordExit(rec, exit);
      this.event(rec, 'stop');
    });
    return this.instances.get(found.id) ?? found;
  }

  /** `isola start`: a created instance, or an exited one again (same root file system or disk), as Docker does. */
  async startInstance(ref: string): Promise<InstanceRecord> {
    await this.reconcile();
    const found = this.find(ref);
    if (found.state === 'running') return found;
    if (found.state === 'created') return this.start(found);
    if (found.state !== 'exited') {
      throw new IsolaError('FAILED_PRECONDITION', `instance ${found.name} is ${found.state === 'dead' ? 'dead (its create was interrupted)' : 'being created'}`, found.state === 'dead' ? 'remove it (isola rm) and run a new one' : 'wait for the create to finish');
    }
    this.endRestarter(lifeOf(found).restart);
    return this.locked(found, async () => {
      let rec = this.instances.get(found.id);
      if (!rec) throw notFound(`no such instance: ${ref}`, 'list instances with isola ps --all');
      if (rec.state === 'running') return rec;
      if (rec.state === 'exited' && !rec.cleaned) await this.settle(rec);
      rec = this.instances.get(found.id) ?? rec;
      if (rec.state !== 'exited' || !this.instances.reopen(rec.id, lifeOf(rec).runSeq, true)) {
        throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} changed state meanwhile (${rec.state})`, 'look at isola ps -a and try again');
      }
      return this.start(this.instances.get(rec.id) ?? rec);
    });
  }

  /** `isola restart`: stop (if it runs), then start; the restart policy's count starts again. */
  async restart(ref: string, timeoutSec?: number): Promise<InstanceRecord> {
    const stopped = await this.stop(ref, timeoutSec);
    const rec = await this.startInstance(stopped.id);
    this.event(rec, 'restart');
    return rec;
  }

  async kill(ref: string, signal: string): Promise<void> {
    const rec = this.find(ref);
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'nothing to signal');
    // A signal that ends the workload is a stop by the user (no restart); a reload signal is not.
    const sig = signal.toUpperCase().replace(/^SIG/, '');
    const stopSig = (rec.spec.stopSignal ?? 'TERM').toUpperCase().replace(/^SIG/, '');
    if (['KILL', 'TERM', 'INT', 'QUIT', '9', '15', '2', '3', stopSig].includes(sig)) this.endRestarter(this.instances.markStoppedByUser(rec.id));
    await this.resumeIfPaused(rec);
    await this.driver(rec.kind).kill(rec.spec, rec.data, signal);
    this.event(rec, 'kill', { signal: sig });
  }

  /** Removes an instance; with `volumes`, also its anonymous volumes (rm -v), as Docker does. */
  async remove(ref: string, force: boolean, volumes = false): Promise<string> {
    // An instance run with --rm removes itself once its exit is recorded, which may happen in
    // this very call (reconcile) or in its exit command meanwhile: asked to remove what is
    // already going, rm succeeds, as the user's intent is met.
    const named = this.instances.find(ref);
    const selfRemoved = (): string | null => (named?.autoRemove && !this.instances.get(named.id) ? named.id : null);
    await this.reconcile();
    const settled = selfRemoved();
    if (settled) return settled;
    let found = this.find(ref);
    if (found.state === 'creating') {
      throw new IsolaError('FAILED_PRECONDITION', `instance ${found.name} is being created by process ${found.owner?.pid ?? '?'}`, 'wait for it to finish, then remove it');
    }
    if (found.state === 'running' && !force) {
      // Its exit may be being recorded right now (the monitor's exit command holds its lock, so
      // reconcile left it alone): what the driver sees decides, once that record is written.
      const seen = await this.driver(found.kind).observe(found.spec, found.data);
      if (seen.state !== 'exited') throw new IsolaError('FAILED_PRECONDITION', `instance ${found.name} is running`, 'stop it first (isola stop), or use isola rm -f');
      await this.recordExit(found, seen.exit);
      if (selfRemoved()) return found.id;
      found = this.find(ref);
    }
    this.endRestarter(this.instances.markStoppedByUser(found.id));
    await this.locked(found, async () => {
      const rec = this.instances.get(found.id);
      if (!rec) return; // removed while this call waited for its lock (its own --rm, or another rm)
      const driver = this.driver(rec.kind);
      if (rec.state === 'running') {
        await this.resumeIfPaused(rec);
        await driver.kill(rec.spec, rec.data, 'KILL').catch(() => undefined);
        const exit = await driver.wait(rec.spec, rec.data);
        if (this.instances.markExited(rec.id, exit.exitCode, exit.oomKilled, exit.finishedAt, lifeOf(rec).runSeq)) this.event(rec, 'die', { exitCode: String(exit.exitCode) });
      }
      stopForwarders(rec.ports);
      if (rec.ports.length > 0) await unpublishPorts(rec.id);
      this.endHealthChecker(rec);
      await driver.cleanup(rec.spec, rec.data);
      await driver.remove(rec.spec, rec.data);
      this.instances.delete(rec.id);
      this.event(rec, 'destroy');
      if (volumes) this.volumes.removeIfUnused(anonymousVolumes(rec.spec));
      await this.networks.refreshHosts(bridgeNetworks(rec.spec).map((n) => n.networkId ?? DEFAULT_NETWORK));
    });
    return found.id;
  }

  // ---- pause, update, top, rename ----------------------------------------------------------

  private running(rec: InstanceRecord, what: string): void {
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, `${what} needs a running instance; start it first`);
  }

  async pause(ref: string): Promise<InstanceRecord> {
    await this.reconcile();
    const found = this.find(ref);
    this.running(found, 'pause');
    if (lifeOf(found).paused) throw new IsolaError('FAILED_PRECONDITION', `instance ${found.name} is already paused`, `unpause it with isola unpause ${found.name}`);
    return this.locked(found, async () => {
      await this.driver(found.kind).pause(found.spec, found.data);
      this.instances.setPaused(found.id, true);
      this.event(found, 'pause');
      return this.instances.get(found.id) ?? found;
    });
  }

  async unpause(ref: string): Promise<InstanceRecord> {
    await this.reconcile();
    const found = this.find(ref);
    this.running(found, 'unpause');
    if (!lifeOf(found).paused) throw new IsolaError('FAILED_PRECONDITION', `instance ${found.name} is not paused`, 'nothing to unpause');
    return this.locked(found, async () => {
      await this.driver(found.kind).resume(found.spec, found.data);
      this.instances.setPaused(found.id, false);
      this.event(found, 'unpause');
      return this.instances.get(found.id) ?? found;
    });
  }

  /** A paused workload cannot take a signal: stop, kill and rm unpause it first. */
  private async resumeIfPaused(rec: InstanceRecord): Promise<void> {
    if (!lifeOf(rec).paused) return;
    await this.driver(rec.kind).resume(rec.spec, rec.data);
    this.instances.setPaused(rec.id, false);
    this.event(rec, 'unpause');
  }

  /** `isola update`: new limits (where the kind can take them) and restart policy. */
  async update(ref: string, change: ResourceUpdate, restart?: RestartPolicy): Promise<InstanceRecord> {
    await this.reconcile();
    const found = this.find(ref);
    if (found.state === 'creating' || found.state === 'dead') throw new IsolaError('FAILED_PRECONDITION', `instance ${found.name} is ${found.state}`, 'remove it and run a new one');
    if (restart && restart.name !== 'no' && found.autoRemove) throw invalid('--restart cannot be set on an instance that removes itself when it exits (--rm)', 'run a new instance without --rm');
    return this.locked(found, async () => {
      const rec = this.instances.get(found.id) ?? found;
      const limits = Object.keys(change).length > 0;
      const data = limits ? await this.driver(rec.kind).update(rec.spec, rec.data, change, rec.state === 'running') : rec.data;
      const spec = { ...rec.spec, ...change, ...(restart ? { restart } : {}) };
      this.instances.setSpecAndData(rec.id, spec, data);
      this.event(rec, 'update');
      return this.instances.get(rec.id) ?? rec;
    });
  }

  async top(ref: string): Promise<{ rec: InstanceRecord; processes: ProcessInfo[] }> {
    await this.reconcile();
    const rec = this.find(ref);
    this.running(rec, 'top');
    return { rec, processes: await this.driver(rec.kind).top(rec.spec, rec.data) };
  }

  async rename(ref: string, name: string): Promise<void> {
    if (!isValidName(name)) throw invalid(`invalid name "${name}"`, 'use letters, digits, _ . and -, starting with a letter or digit');
    const rec = this.find(ref);
    if (rec.name === name) return;
    this.instances.rename(rec.id, name);
    this.event({ ...rec, name }, 'rename', { oldName: rec.name });
  }

  async exec(ref: string, argv: string[], opts: ExecOptions): Promise<number> {
    await this.reconcile();
    const rec = this.find(ref);
    if (rec.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'start it first, or use isola run');
    if (lifeOf(rec).paused) throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is paused`, `unpause it first (isola unpause ${rec.name})`);
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

  /**
   * Called by the monitor's exit command (conmon's, or a VM's exit watcher), and by hand: records
   * the exit and cleans up one instance, and schedules the restart its policy asks for.
   */
  async cleanupInstance(id: string, runSeq?: number): Promise<void> {
    const rec = this.instances.get(id);
    if (!rec) return;
    // The exit command names the run it was started for: a restart may already have begun the
    // next run, whose record still names the last run's monitor (dead, its exit file removed)
    // until its start is recorded. That next run is not this command's to look at: the last one
    // was recorded and settled before it began (stop, start and the restart policy settle first).
    if (runSeq !== undefined && lifeOf(rec).runSeq !== runSeq) return;
    if (rec.state === 'exited') {
      await this.settle(rec);
      await this.considerRestart(this.instances.get(id) ?? rec);
      return;
    }
    const seen = await this.driver(rec.kind).observe(rec.spec, rec.data);
    if (seen.state !== 'exited') return;
    await this.recordExit(rec, seen.exit);
  }

}

/**
 * The spec a run starts with: its exit command names the run (`_cleanup --run N ID`), so a late
 * exit command of an earlier run never takes a newer run for its own.
 */
function forThisRun(spec: InstanceSpec, runSeq: number): InstanceSpec {
  const c = spec.cleanupCommand;
  if (c.length < 2 || !c.includes('_cleanup')) return spec;
  return { ...spec, cleanupCommand: [...c.slice(0, -1), '--run', String(runSeq), ...c.slice(-1)] };
}

/** Seconds `stop` waits before SIGKILL when neither -t nor --stop-timeout says. */
export const DEFAULT_STOP_TIMEOUT_S = 10;

/** A pending restart without an owner this old was left by a process that died before handing it on. */
const ORPHANED_RESTART_MS = 5000;

function sameProcess(a: ProcessRef | null, b: ProcessRef): boolean {
  return a !== null && a.pid === b.pid && a.startTime === b.startTime && a.bootId === b.bootId;
}

/** Pids of processes whose command line contains every one of `words` (a record cut short). */
export function findProcesses(words: string[]): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (words.every((w) => cmd.includes(w))) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}
