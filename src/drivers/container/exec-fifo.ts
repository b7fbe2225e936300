import fs from 'node:fs';
import path from 'node:path';
import { processAlive } from '../../util/process.js';
import { runtimeError } from './monitor.js';

/**
 * What `runc start` does for a created container, without starting the runc binary (a Go
 * program: about 6 ms of the start path here). After `runc create`, the container's init waits
 * in an open(O_WRONLY) of `exec.fifo` in the runtime's state folder of the container; `runc
 * start` opens that fifo for reading, reads the byte the init writes before it execs the
 * workload, and removes the fifo, which is what marks the container running in runc's own
 * state. This does the same. runc 1.x only: its state layout (`<root>/<id>/exec.fifo`, read by
 * runc 1.0 to 1.1 exactly this way); other runtimes go through their `start` verb.
 *
 * While waiting for the init (which has already reached the fifo when `create` returns), the
 * init's liveness is checked every `pollMs`, as runc does (its 100 ms): an init that died
 * before it was started makes the same error as runc's.
 */
export async function startThroughExecFifo(runtimeRoot: string, id: string, initPid: number, pollMs = 100): Promise<void> {
  const fifo = path.join(runtimeRoot, id, 'exec.fifo');
  if (!fs.existsSync(fifo)) throw runtimeError('cannot start a container that has stopped or is already running (its exec fifo is gone)');
  let dead = false;
  // A blocking open in libuv's thread pool: it returns once the init's open for writing meets
  // it. Should the init die first, the poll below opens the fifo for writing itself (without
  // blocking: our reader is there), which lets the pending open return, and reads find no byte.
  const timer = setInterval(() => {
    if (processAlive(initPid)) return;
    dead = true;
    clearInterval(timer);
    try {
      fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    } catch {
      /* the open already returned, or the fifo is gone: nothing waits */
    }
  }, pollMs);
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(fifo, fs.constants.O_RDONLY);
    const buf = Buffer.alloc(1);
    const { bytesRead } = await handle.read(buf, 0, 1, null);
    if (bytesRead !== 1) {
      throw runtimeError(dead ? 'container process is already dead' : 'cannot start an already running container');
    }
    fs.rmSync(fifo, { force: true });
  } catch (e) {
    if (e instanceof Error && (e as NodeJS.ErrnoException).code === 'ENOENT') throw runtimeError('cannot start a container that has stopped or is already running (its exec fifo is gone)');
    throw e;
  } finally {
    clearInterval(timer);
    await handle?.close();
  }
}

/** Whether `runtime` (the binary isola runs) is runc, whose exec fifo isola can open itself. */
export function startsThroughFifo(runtime: string): boolean {
  return path.basename(runtime) === 'runc';
}
