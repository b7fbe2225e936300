import type { Readable } from 'node:stream';
import type { AttachIO, AttachSession, TerminalSize } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import { AgentConnection } from './agent.js';

/**
 * A client of a VM's workload streams, over the guest's `isola.tty` port (src/guest/init.c):
 * frames `O`/`E` carry its output (all `O` with a tty), `X` its exit status once the output
 * is drained; the client sends `I` (stdin), `C` (end of stdin), `Z` ("ROWS COLS": the
 * terminal's size). QEMU's socket serves one client at a time; a second waits, and is told so.
 */
export async function openTerminal(socket: string, io: AttachIO, name: string, timeoutMs: number): Promise<AttachSession> {
  let c: AgentConnection;
  try {
    c = await AgentConnection.connect(socket, timeoutMs);
  } catch (e) {
    if (e instanceof IsolaError && e.code === 'TIMEOUT') {
      throw new IsolaError('FAILED_PRECONDITION', `the streams of VM ${name} did not answer within ${timeoutMs / 1000} s: another client is probably attached (a VM takes one at a time)`, 'detach the other client (its detach keys), then attach again');
    }
    throw e;
  }
  return session(c, io);
}

function session(c: AgentConnection, io: AttachIO): AttachSession {
  let closed = false;
  const done = new Promise<void>((resolve) => {
    if (c.socket.destroyed) resolve();
    else c.socket.once('close', () => resolve());
  });
  c.stream((f) => {
    if (f.type === 'O') io.stdout.write(f.payload);
    else if (f.type === 'E') io.stderr.write(f.payload);
    else if (f.type === 'X') c.close(); // the workload exited and its output came first
  });
  const stopInput = pumpInput(c, io.stdin);
  const s: AttachSession = {
    resize: (size: TerminalSize) => {
      if (!closed) c.send('Z', `${Math.floor(size.rows)} ${Math.floor(size.cols)}`);
    },
    done,
    close: () => {
      if (closed) return;
      closed = true;
      stopInput();
      c.close();
    },
  };
  void done.then(() => {
    closed = true;
    stopInput();
  });
  if (io.size) s.resize(io.size);
  return s;
}

/** Sends the client's input as `I` frames and its end as `C`; returns what stops it. */
function pumpInput(c: AgentConnection, stdin: Readable | null): () => void {
  if (!stdin) return () => undefined;
  const onData = (d: Buffer | string): void => c.sendInput(d, stdin);
  const onEnd = (): void => {
    c.send('C');
  };
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
  };
}
