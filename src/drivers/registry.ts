/**
 * The composition root: the only module that imports concrete drivers. The engine, the CLI and
 * the benchmarks reach drivers through `createDrivers(config)`.
 *
 * Drivers load on first use: `isola run` of a container never loads QEMU's or the hybrid's
 * code (module loading is a visible share of a short command's wall time).
 */
import type { Config } from '../core/config.js';
import { IsolaError } from '../core/errors.js';
import { KINDS, type Kind, type StoredData } from '../core/types.js';
import { driverContext, type AnyDriver, type Driver, type DriverContext } from './driver.js';
import type { MachineHost } from './machine-host.js';

interface Entry {
  load: (ctx: DriverContext) => Promise<AnyDriver>;
  /** Whether the driver implements the optional runOnWorkloadKernel (a unit test checks this). */
  runsOnWorkloadKernel: boolean;
  /** Whether it implements the optional exportChanges and exportFs: its files are readable from the host (the same test checks this). */
  exportsChanges: boolean;
  /** Whether it implements the optional attachNetwork and detachNetwork (the same test checks this). */
  hotplugsNetworks: boolean;
  /** Whether it implements the optional refreshEtc (the same test checks this). */
  refreshesEtc: boolean;
  /** Whether it implements the optional snapshotCreate, snapshotRestore and snapshotRemove (the same test checks this). */
  snapshots: boolean;
}

export const entries: Record<Kind, Entry> = {
  container: {
    load: (ctx) => import('./container/driver.js').then((m) => erase(new m.ContainerDriver(ctx))),
    runsOnWorkloadKernel: false, exportsChanges: true, hotplugsNetworks: true, refreshesEtc: false, snapshots: true,
  },
  vm: {
    load: (ctx) => import('./vm/driver.js').then((m) => erase(new m.VmDriver(ctx))),
    runsOnWorkloadKernel: false, exportsChanges: false, hotplugsNetworks: false, refreshesEtc: true, snapshots: true,
  },
  hybrid: {
    load: (ctx) => import('./machine/dispatch.js').then((m) => erase(new m.HybridKind(ctx))),
    runsOnWorkloadKernel: true, exportsChanges: false, hotplugsNetworks: true, refreshesEtc: true, snapshots: true,
  },
};

/**
 * The engine holds every driver as a Driver of stored JSON. Here, once, each driver's own data
 * type meets the database: stored data goes through the driver's `decode` on the way in, and
 * data that does not decode (another version's, or damaged) is an error, not a guess.
 */
function erase<D extends StoredData>(d: Driver<D>): AnyDriver {
  const need = (stored: StoredData): D => {
    const data = d.decode(stored);
    if (!data) throw new IsolaError('CORRUPT', `the ${d.kind} driver's record of this instance is missing or from another version`, 'remove the instance with isola rm -f');
    return data;
  };
  const erased: AnyDriver = {
    kind: d.kind,
    decode: (s) => d.decode(s),
    probe: () => d.probe(),
    create: (s) => d.create(s),
    start: (s, data, checkpoint, attach) => d.start(s, need(data), checkpoint, attach),
    attach: (s, data, io) => d.attach(s, need(data), io),
    observe: (s, data) => d.observe(s, need(data)),
    wait: (s, data) => d.wait(s, need(data)),
    stop: (s, data, t) => d.stop(s, need(data), t),
    kill: (s, data, sig) => d.kill(s, need(data), sig),
    cleanup: (s, data) => d.cleanup(s, data ? d.decode(data) : null),
    remove: (s, data) => d.remove(s, data ? d.decode(data) : null),
    exec: (s, data, argv, o) => d.exec(s, need(data), argv, o),
    logs: (s, data, o) => d.logs(s, need(data), o),
    stats: (s, data) => d.stats(s, need(data)),
    statPath: (s, data, p, f) => d.statPath(s, need(data), p, f),
    copyOut: (s, data, p, out, o) => d.copyOut(s, need(data), p, out, o),
    copyIn: (s, data, dir, input, o) => d.copyIn(s, need(data), dir, input, o),
    pause: (s, data) => d.pause(s, need(data)),
    resume: (s, data) => d.resume(s, need(data)),
    update: (s, data, c, running) => d.update(s, need(data), c, running),
    top: (s, data) => d.top(s, need(data)),
  };
  const run = d.runOnWorkloadKernel?.bind(d);
  if (run) erased.runOnWorkloadKernel = (s, data, script) => run(s, need(data), script);
  const exportChanges = d.exportChanges?.bind(d);
  if (exportChanges) erased.exportChanges = (s, data, tarFile) => exportChanges(s, need(data), tarFile);
  const exportFs = d.exportFs?.bind(d);
  if (exportFs) erased.exportFs = (s, data, out) => exportFs(s, need(data), out);
  const attach = d.attachNetwork?.bind(d);
  if (attach) erased.attachNetwork = (s, data, n) => attach(s, need(data), n);
  const detach = d.detachNetwork?.bind(d);
  if (detach) erased.detachNetwork = (s, data, n, first) => detach(s, need(data), n, first);
  const refresh = d.refreshEtc?.bind(d);
  if (refresh) erased.refreshEtc = (s, data) => refresh(s, need(data));
  const snapCreate = d.snapshotCreate?.bind(d);
  const snapRestore = d.snapshotRestore?.bind(d);
  const snapRemove = d.snapshotRemove?.bind(d);
  if (snapCreate && snapRestore && snapRemove) {
    erased.snapshotCreate = (s, data, snap, now) => snapCreate(s, need(data), snap, now);
    erased.snapshotRestore = (s, data, snap) => snapRestore(s, need(data), snap);
    erased.snapshotRemove = (s, data, snap, now) => snapRemove(s, need(data), snap, now);
  }
  return erased;
}

/** A Driver that forwards every call to the real one, loading it on the first call. */
function lazy(kind: Kind, entry: Entry, ctx: DriverContext): AnyDriver {
  let real: Promise<AnyDriver> | undefined;
  const d = () => (real ??= entry.load(ctx));
  const driver: AnyDriver = {
    kind,
    decode: (s) => s,
    probe: () => d().then((x) => x.probe()),
    create: (s) => d().then((x) => x.create(s)),
    start: (s, data, checkpoint, attach) => d().then((x) => x.start(s, data, checkpoint, attach)),
    attach: (s, data, io) => d().then((x) => x.attach(s, data, io)),
    observe: (s, data) => d().then((x) => x.observe(s, data)),
    wait: (s, data) => d().then((x) => x.wait(s, data)),
    stop: (s, data, t) => d().then((x) => x.stop(s, data, t)),
    kill: (s, data, sig) => d().then((x) => x.kill(s, data, sig)),
    cleanup: (s, data) => d().then((x) => x.cleanup(s, data)),
    remove: (s, data) => d().then((x) => x.remove(s, data)),
    exec: (s, data, argv, o) => d().then((x) => x.exec(s, data, argv, o)),
    logs: (s, data, o) =>
      (async function* () {
        yield* (await d()).logs(s, data, o);
      })(),
    stats: (s, data) => d().then((x) => x.stats(s, data)),
    statPath: (s, data, p, f) => d().then((x) => x.statPath(s, data, p, f)),
    copyOut: (s, data, p, out, o) => d().then((x) => x.copyOut(s, data, p, out, o)),
    copyIn: (s, data, dir, input, o) => d().then((x) => x.copyIn(s, data, dir, input, o)),
    pause: (s, data) => d().then((x) => x.pause(s, data)),
    resume: (s, data) => d().then((x) => x.resume(s, data)),
    update: (s, data, c, running) => d().then((x) => x.update(s, data, c, running)),
    top: (s, data) => d().then((x) => x.top(s, data)),
  };
  if (entry.runsOnWorkloadKernel) {
    driver.runOnWorkloadKernel = async (s, data, script) => {
      const x = await d();
      if (!x.runOnWorkloadKernel) throw new IsolaError('INTERNAL', `the ${kind} driver does not run scripts on the workload's kernel`, 'report this bug');
      return x.runOnWorkloadKernel(s, data, script);
    };
  }
  if (entry.exportsChanges) {
    driver.exportChanges = async (s, data, tarFile) => {
      const x = await d();
      if (!x.exportChanges) throw new IsolaError('INTERNAL', `the ${kind} driver does not export changes`, 'report this bug');
      return x.exportChanges(s, data, tarFile);
    };
    driver.exportFs = async (s, data, out) => {
      const x = await d();
      if (!x.exportFs) throw new IsolaError('INTERNAL', `the ${kind} driver does not export its files`, 'report this bug');
      return x.exportFs(s, data, out);
    };
  }
  if (entry.hotplugsNetworks) {
    const missing = () => new IsolaError('INTERNAL', `the ${kind} driver does not change networks while running`, 'report this bug');
    driver.attachNetwork = async (s, data, n) => {
      const x = await d();
      if (!x.attachNetwork) throw missing();
      return x.attachNetwork(s, data, n);
    };
    driver.detachNetwork = async (s, data, n, first) => {
      const x = await d();
      if (!x.detachNetwork) throw missing();
      return x.detachNetwork(s, data, n, first);
    };
  }
  if (entry.refreshesEtc) {
    driver.refreshEtc = async (s, data) => {
      const x = await d();
      if (!x.refreshEtc) throw new IsolaError('INTERNAL', `the ${kind} driver does not refresh /etc files`, 'report this bug');
      return x.refreshEtc(s, data);
    };
  }
  if (entry.snapshots) {
    const loaded = async () => {
      const x = await d();
      if (!x.snapshotCreate || !x.snapshotRestore || !x.snapshotRemove) throw new IsolaError('INTERNAL', `the ${kind} driver does not keep snapshots`, 'report this bug');
      return { create: x.snapshotCreate, restore: x.snapshotRestore, remove: x.snapshotRemove };
    };
    driver.snapshotCreate = async (s, data, snap, now) => (await loaded()).create(s, data, snap, now);
    driver.snapshotRestore = async (s, data, snap) => (await loaded()).restore(s, data, snap);
    driver.snapshotRemove = async (s, data, snap, now) => (await loaded()).remove(s, data, snap, now);
  }
  return driver;
}

/** The drivers of one configuration (one data root). */
export class Drivers {
  private readonly byKind: Record<Kind, AnyDriver>;
  private readonly ctx: DriverContext;
  private machineHost: Promise<MachineHost> | undefined;

  constructor(config: Config) {
    const ctx = driverContext(config);
    this.ctx = ctx;
    this.byKind = { container: lazy('container', entries.container, ctx), vm: lazy('vm', entries.vm, ctx), hybrid: lazy('hybrid', entries.hybrid, ctx) };
  }

  /** Machines (`isola machine`), on the VM driver; loaded on first use. */
  machines(): Promise<MachineHost> {
    this.machineHost ??= import('./machine/host.js').then((m) => new m.VmMachineHost(this.ctx));
    return this.machineHost;
  }

  get(kind: Kind): AnyDriver {
    // A kind read back from the database or an API is only a string until checked here.
    if (!Object.hasOwn(this.byKind, kind)) throw new IsolaError('INVALID_ARGUMENT', `unknown isolation kind "${kind}"`, 'use --as container, vm or hybrid');
    return this.byKind[kind];
  }

  all(): AnyDriver[] {
    return KINDS.map((k) => this.byKind[k]);
  }
}
