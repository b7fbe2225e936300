import { PassThrough, Writable } from 'node:stream';
import type { AttachIO, AttachSession, InstanceSpec, TerminalSize } from '../../core/types.js';
import { IsolaError, isIsolaError } from '../../core/errors.js';
import type { VmDriver } from '../vm/driver.js';
import type { VmData } from '../vm/persist.js';
import { ctlResizeLine } from '../container/attach.js';
import { guestRun } from '../vm/guest-run.js';
import { MACHINE_GUEST } from './guest.js';

/**
 * A client's end of a container in a machine: its terminal, or its stdin and output (`run -i/-t
 * --machine`, `attach`). conmon runs in the guest, so the relay does too: the static tty-relay
 * on the machine's disk (src/guest/tty-relay.c) connects to conmon's attach socket,
 * /run/isola/<id>/attach, and speaks to the host over one agent port, held for the session's
 * life: stdin in, the workload's stdout and stderr out apart (with a terminal, one stream). Window
 * sizes go to conmon's `ctl` FIFO in the guest: the first with the relay's start, the next ones
 * each through a short command of their own.
 *
 * A machine has three agent ports (src/drivers/vm/agent-ports.ts). Attached clients take only
 * the second and the third: the first stays for every other command of the machine (exec, stop,
 * the start of its other containers, window sizes), so two clients are attached at most at once,
 * and a third is refused in one line once ATTACH_WAIT_MS passed without a port.
 */

/** Agent ports before this one are left to short commands. */
const FIRST_ATTACH_PORT = 1;
/** How long an attach waits for a free port of its own. */
export const ATTACH_WAIT_MS = 3000;

export interface PlacedTarget {
  vm: VmDriver;
  /** The machine's VM spec and data. */
  spec: InstanceSpec;
  v: VmData;
  machine: string;
  /** The container's id and name. */
  id: string;
  name: string;
  tty: boolean;
}

/**
 * The relay under a shell (its parent must not be the guest's init, PID 1: it ties its life to
 * its parent's), with its events (fd 3) on stderr: its first line there is "ready" once it is
 * connected, or its own error.
 */
const RELAY_SCRIPT = `[ -n "$2" ] && printf '%s\\n' "$2" 1<>"$1/ctl"; ${MACHINE_GUEST.relay} attach "$1" $3 3>&2; exit $?`;

/** Writes the relay's stderr on: "ready" (its first line) resolves `ready`; what came before it is its error. */
export function readyFilter(stderr: Writable): { sink: Writable; ready: Promise<void>; said: () => string } {
  let isReady = false;
  let head = Buffer.alloc(0);
  let resolve: () => void = () => undefined;
  const ready = new Promise<void>((r) => (resolve = r));
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      if (isReady) return void stderr.write(chunk, () => cb());
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl >= 0 && head.subarray(0, nl).toString() === 'ready') {
        isReady = true;
        const rest = head.subarray(nl + 1);
        head = Buffer.alloc(0);
        resolve();
        if (rest.length > 0) return void stderr.write(rest, () => cb());
      }
      cb();
    },
  });
  return { sink, ready, said: () => head.toString().trim().replace(/^isola-tty-relay: /, '') };
}

/** Connects a client to the container's conmon; resolves once connected (output from then on). */
export async function attachPlaced(t: PlacedTarget, io: AttachIO): Promise<AttachSession> {
  const dir = `${MACHINE_GUEST.bundles}/${t.id}`;
  const first = t.tty && io.size ? ctlResizeLine(io.size).trim() : '';
  const argv = ['/bin/sh', '-c', RELAY_SCRIPT, 'sh', dir, first, io.stdin ? '' : '--no-stdin'];
  // Its own stream of the client's input, unpiped at close: the client's stdin outlives the session.
  const input = io.stdin ? new PassThrough() : null;
  if (io.stdin && input) io.stdin.pipe(input);
  const filter = readyFilter(io.stderr);
  const abort = new AbortController();
  const run = t.vm.execOnPorts(t.spec, t.v, argv, { stdin: input, stdout: io.stdout, stderr: filter.sink, signal: abort.signal, env: ['PATH=/bin'] }, { from: FIRST_ATTACH_PORT, waitMs: ATTACH_WAIT_MS });
  let closed = false;
  const unpipe = (): void => {
    if (io.stdin && input) io.stdin.unpipe(input);
  };
  const done = run.then(() => undefined, () => undefined).finally(() => {
    closed = true;
    unpipe();
  });
  const ended = run.then(
    (code) => { throw new IsolaError('UNAVAILABLE', `cannot attach to ${t.name} in machine ${t.machine}: ${filter.said() || `the relay ended (status ${code})`}`, 'check the instance is running (isola ps)'); },
    (e: unknown) => {
      if (isIsolaError(e, 'TIMEOUT')) throw new IsolaError('UNAVAILABLE', `machine ${t.machine} already serves ${(t.v.files.agents ?? []).length} attached clients or long exec sessions on its agent ports for them (its first port stays for other commands)`, 'detach one of them (or end a long isola exec), then attach again');
      throw e;
    },
  );
  try {
    await Promise.race([filter.ready, ended]);
  } catch (e) {
    abort.abort();
    unpipe();
    throw e;
  }
  ended.catch(() => undefined);
  // Window sizes, one after another, each a short command on a port of its own.
  let sizes: Promise<unknown> = Promise.resolve();
  return {
    resize: (size: TerminalSize) => {
      if (!t.tty || closed) return;
      sizes = sizes.then(() => guestRun(t.vm, t.spec, t.v, ['/bin/sh', '-c', 'printf \'%s\\n\' "$1" 1<>"$2"', 'sh', ctlResizeLine(size).trim(), `${dir}/ctl`])).catch(() => undefined);
    },
    done,
    close: () => {
      if (closed) return;
      closed = true;
      unpipe();
      abort.abort();
    },
  };
}
