import fs from 'node:fs';
import path from 'node:path';
import { IsolaError } from '../../core/errors.js';

/**
 * Whether a machine serves terminals (`run -i/-t --machine`, `attach`): a file in its folder,
 * written at create once its disk holds the terminal relay and the start script that can stop
 * before `runc start`. Machines made before lack both, and the file.
 */
const MARK = 'terminals';

export function markTerminals(machineDir: string): void {
  fs.writeFileSync(path.join(machineDir, MARK), 'tty-relay on its disk\n', { mode: 0o644 });
}

export function servesTerminals(machineDir: string): boolean {
  return fs.existsSync(path.join(machineDir, MARK));
}

/** The one-line refusal for a machine made before terminals reached machines. */
export function noTerminals(machine: string, what: string): IsolaError {
  return new IsolaError('FAILED_PRECONDITION', `${what} is not available in machine ${machine}: it was made before terminals reached machines (its disk has no terminal relay)`, `recreate the machine (isola machine rm -f ${machine}; isola machine create ${machine}), or run the container detached (-d) and use isola exec`);
}
