/**
 * The composition root: the only module that imports concrete drivers. The engine, the CLI and
 * the benchmarks reach drivers through `driverFor` and `allDrivers`.
 *
 * Drivers load on first use: `isola run` of a container never loads QEMU's or the hybrid's
 * code (module loading is a visible share of a short command's wall time).
 */
import type { Driver, Kind } from './driver.js';
import { IsolaError } from '../spec/errors.js';

interface Entry {
  load: () => Promise<Driver>;
  /** Whether the driver implements the optional runOnWorkloadKernel (a unit test checks this). */
  runsOnWorkloadKernel: boolean;
}

export const entries: Record<Kind, Entry> = {
  container: { load: () => import('./container/driver.js').then((m) => m.containerDriver), runsOnWorkloadKernel: false },
  vm: { load: () => import('./vm/driver.js').then((m) => m.vmDriver), runsOnWorkloadKernel: false },
  hybrid: { load: () => import('./hybrid/driver.js').then((m) => m.hybridDriver), runsOnWorkloadKernel: true },
};

/** A Driver that forwards every call to the real one, loading it on the first call. */
function lazy(kind: Kind, entry: Entry): Driver {
  let real: Promise<Driver> | undefined;
  const d = () => (real ??= entry.load());
  const driver: Driver = {
    kind,
    probe: () => d().then((x) => x.probe()),
    create: (s) => d().then((x) => x.create(s)),
    start: (s, data) => d().then((x) => x.start(s, data)),
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
  };
  if (entry.runsOnWorkloadKernel) {
    driver.runOnWorkloadKernel = async (s, data, script) => {
      const x = await d();
      if (!x.runOnWorkloadKernel) throw new IsolaError('INTERNAL', `the ${kind} driver does not run scripts on the workload's kernel`, 'report this bug');
      return x.runOnWorkloadKernel(s, data, script);
    };
  }
  return driver;
}

const drivers: Record<Kind, Driver> = {
  container: lazy('container', entries.container),
  vm: lazy('vm', entries.vm),
  hybrid: lazy('hybrid', entries.hybrid),
};

export function driverFor(kind: Kind): Driver {
  const d = drivers[kind];
  if (!d) throw new IsolaError('INVALID_ARGUMENT', `unknown isolation kind "${kind}"`, 'use --as container, vm or hybrid');
  return d;
}

export function allDrivers(): Driver[] {
  return Object.values(drivers);
}
