import type { InstanceSpec } from '../../core/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VmDriver } from '../vm/driver.js';
import type { VmData } from '../vm/persist.js';
import { IsolaError } from '../../core/errors.js';
import { CONTAINER_ID, GUEST } from './persist.js';
import { collectOutput } from '../../util/collect.js';


/** Runs argv in the guest through the VM agent; resolves with its status and output. */
export async function guestRun(vm: VmDriver, spec: InstanceSpec, data: VmData, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return collectOutput((io) => vm.exec(spec, data, argv, { ...io, stdin: null }));
}

/** The container's status as runc in the guest reports it: creating, created, running, stopped, or null. */
export async function containerState(vm: VmDriver, spec: InstanceSpec, data: VmData): Promise<{ status: string; pid: number } | null> {
  const r = await guestRun(vm, spec, data, [GUEST.runc, '--root', GUEST.runcRoot, 'state', CONTAINER_ID]);
  if (r.code !== 0) return null;
  try {
    const s = JSON.parse(r.stdout) as { status: string; pid: number };
    return { status: s.status, pid: s.pid };
  } catch {
    return null;
  }
}

/**
 * Whether the container was created in the guest, asked cheaply: crun's state file is written
 * once the container's process exists, so its presence answers without starting crun; with runc,
 * `runc state` runs only once its state.json exists. Each poll used to start the runtime in the
 * guest (about 0.1-0.2 s of the one emulated CPU under TCG for runc's Go runtime), slowing the
 * very start it waited for.
 */
export const STARTED_PROBE = `R=${GUEST.runcRoot}/${CONTAINER_ID}; [ -e $R/status ] && { echo crun; exit 0; }; [ -e $R/state.json ] || exit 1; exec ${GUEST.runc} --root ${GUEST.runcRoot} state ${CONTAINER_ID}`;

/** STARTED_PROBE's answer: created or running (or already stopped), or not yet (false). */
export function startedFrom(r: { code: number; stdout: string }): boolean {
  if (r.code !== 0) return false;
  if (r.stdout.trim() === 'crun') return true;
  try {
    return (JSON.parse(r.stdout) as { status?: string }).status !== 'creating';
  } catch {
    return false;
  }
}

/**
 * The VM is up when its init started the start script; the container is up when the runtime
 * says so. Waits for the second, so that exec right after start finds the container. Ends early
 * when the workload already exited (a short command) or the VM went away.
 */
export async function waitContainerStarted(vm: VmDriver, spec: InstanceSpec, data: VmData, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await vm.observe(spec, data);
    if (seen.state !== 'running') return;
    const r = await guestRun(vm, spec, data, ['/bin/sh', '-c', STARTED_PROBE]).catch(() => null);
    if (r && startedFrom(r)) return;
    if (Date.now() > deadline) {
      throw new IsolaError('TIMEOUT', `the container did not start in the hybrid guest within ${timeoutMs / 1000} s`, 'see isola logs and isola console for what the runtime reported');
    }
    await sleep(50);
  }
}
