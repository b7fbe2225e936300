import type { InstanceSpec } from '../../core/types.js';
import { collectOutput, type Collected } from '../../util/collect.js';
import type { VmDriver } from './driver.js';
import type { VmData } from './persist.js';

/**
 * Runs argv in a VM's guest through its agent, as root, with no stdin and the guest system's
 * PATH (plus `env`); resolves with its status and collected output. For isola's own commands
 * in a guest (a hybrid's start probe, a machine's container setup), not the user's exec.
 */
export function guestRun(vm: VmDriver, spec: InstanceSpec, v: VmData, argv: string[], env: string[] = []): Promise<Collected> {
  return collectOutput((io) => vm.exec(spec, v, argv, { ...io, stdin: null, env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', ...env] }));
}
