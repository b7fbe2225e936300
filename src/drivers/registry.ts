/**
 * The composition root: the only module that imports concrete drivers. The engine, the CLI and
 * the benchmarks reach drivers through `driverFor` and `allDrivers`.
 */
import type { Driver, Kind } from './driver.js';
import { IsolaError } from '../spec/errors.js';
import { containerDriver } from './container/driver.js';
import { vmDriver } from './vm/driver.js';
import { hybridDriver } from './hybrid/driver.js';

const drivers: Partial<Record<Kind, Driver>> = {
  container: containerDriver,
  vm: vmDriver,
  hybrid: hybridDriver,
};

export function driverFor(kind: Kind): Driver {
  const d = drivers[kind];
  if (!d) throw new IsolaError('UNAVAILABLE', `isolation kind "${kind}" is not available in this build`, 'use --as container');
  return d;
}

export function allDrivers(): Driver[] {
  return Object.values(drivers).filter((d): d is Driver => d !== undefined);
}
