import type { Readable, Writable } from 'node:stream';
import type { AttachIO, AttachSession, ClientTerminal, InstanceSpec } from '../core/types.js';

/**
 * A client of an instance's streams (`run -i/-t`, `attach`): the CLI's terminal today. The
 * engine decides what of it reaches the instance: stdin only when the instance keeps its stdin
 * open, the window size only when it has a tty.
 */
export interface AttachClient {
  stdin: Readable | null;
  stdout: Writable;
  stderr: Writable;
  /** The client's terminal, for its window size and changes of it. */
  terminal?: ClientTerminal;
  /** Aborted when the client detaches (its detach keys): the instance keeps running. */
  detach?: AbortSignal;
}

/** What of the client a driver gets for this instance. */
export function attachIO(spec: InstanceSpec, client: AttachClient): AttachIO {
  return {
    stdin: spec.stdinOpen ? client.stdin : null,
    stdout: client.stdout,
    stderr: client.stderr,
    size: spec.tty ? (client.terminal?.size ?? null) : null,
  };
}

/**
 * Relays until the session ends, passing window size changes on and closing it when the client
 * detaches. Says whether the workload's stream ended (it exited) or the client left.
 */
export async function followSession(session: AttachSession, client: AttachClient): Promise<'ended' | 'detached'> {
  const unsubscribe = client.terminal?.onResize((size) => session.resize(size)) ?? ((): void => undefined);
  const onDetach = (): void => session.close();
  client.detach?.addEventListener('abort', onDetach, { once: true });
  if (client.detach?.aborted) session.close();
  try {
    await session.done;
  } finally {
    unsubscribe();
    client.detach?.removeEventListener('abort', onDetach);
  }
  return client.detach?.aborted ? 'detached' : 'ended';
}
