import fs from 'node:fs';
import path from 'node:path';
import type { InstanceSpec } from '../../core/types.js';
import type { VmDriver } from '../vm/driver.js';
import type { VmData } from '../vm/persist.js';
import { IsolaError } from '../../core/errors.js';
import { CONTAINER_ID, GUEST } from './persist.js';
import { CONTAINER_STARTED_LINE } from './launch.js';
import { guestRun } from '../vm/guest-run.js';
import { Waker } from '../../util/waker.js';



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

/** Where a console file ends now (0 when there is none yet): a start looks for its marker after it. */
export function consoleEnd(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Whether CONTAINER_STARTED_LINE was written to the console file after byte `from`. */
export function startedOnConsole(file: string, from: number): boolean {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= from) return false;
      const buf = Buffer.alloc(Math.min(size - from, 1 << 20));
      const n = fs.readSync(fd, buf, 0, buf.length, Math.max(from, size - buf.length));
      return buf.subarray(0, n).toString('latin1').includes(CONTAINER_STARTED_LINE);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * The VM is up when its init started the start script; the container is up when the runtime
 * says so. Waits for the second, so that exec right after start finds the container. Ends early
 * when the workload already exited (a short command) or the VM went away.
 *
 * A guest whose config.json has the poststart hook (`hooked`) says so on its console: the wait
 * watches the console file's folder and reads what was written after `consoleFrom`, and asks
 * nothing of the guest. Instances made before the hook existed are asked through the agent
 * (STARTED_PROBE) every 50 ms, as before.
 */
export async function waitContainerStarted(vm: VmDriver, spec: InstanceSpec, data: VmData, timeoutMs: number, how: { hooked: boolean; consoleFrom: number }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const file = data.files.console;
  const waker = new Waker(how.hooked ? [path.dirname(file)] : []);
  try {
    for (;;) {
      if (how.hooked && startedOnConsole(file, how.consoleFrom)) return;
      const seen = await vm.observe(spec, data);
      if (seen.state !== 'running') return;
      if (!how.hooked) {
        const r = await guestRun(vm, spec, data, ['/bin/sh', '-c', STARTED_PROBE]).catch(() => null);
        if (r && startedFrom(r)) return;
      }
      if (Date.now() > deadline) {
        throw new IsolaError('TIMEOUT', `the container did not start in the hybrid guest within ${timeoutMs / 1000} s`, 'see isola logs and isola console for what the runtime reported');
      }
      await waker.nap(50);
    }
  } finally {
    waker.close();
  }
}
