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
 * The VM is up when its init started the start script; the container is up when runc says so.
 * Waits for the second, so that exec right after start finds the container. Ends early when the
 * workload already exited (a short command) or the VM went away.
 */
export async function waitContainerStarted(vm: VmDriver, spec: InstanceSpec, data: VmData, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await vm.observe(spec, data);
    if (seen.state !== 'running') return;
    const st = await containerState(vm, spec, data).catch(() => null);
    if (st && st.status !== 'creating') return;
    if (Date.now() > deadline) {
      throw new IsolaError('TIMEOUT', `the container did not start in the hybrid guest within ${timeoutMs / 1000} s`, 'see isola logs and isola console for what runc reported');
    }
    await sleep(50);
  }
}

