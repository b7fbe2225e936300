import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IsolaError, isIsolaError } from '../../core/errors.js';
import { tryLock } from '../../util/lock.js';
import { AgentConnection } from './agent.js';
import { reachablePath } from './monitor.js';
import type { VmData } from './persist.js';

/**
 * Exec sessions into one VM, several at once. QEMU's socket behind a virtio-serial port serves
 * one client at a time, so a VM has several agent ports (isola.agent, isola.agent1, ...; see
 * EXTRA_AGENT_PORTS in launch.ts), each its own channel in the guest's init, and a session takes
 * a free one: the first whose lock folder (isola's lock policy, src/util/lock.ts: owned by the
 * process, broken once that process is gone) it can take and whose socket then accepts it. When
 * every port is busy it waits for one to free up, and fails in one line only after AGENT_WAIT_MS.
 * A VM started before the extra ports existed has isola.agent only: sessions take turns on it.
 */

/** How long a session waits for a free agent port before it gives up (an exec -it holds one for its life). */
export const AGENT_WAIT_MS = 10 * 60_000;

export interface AgentPort {
  /** The unix socket QEMU listens on for this port. */
  socket: string;
  /** The lock folder a session holds while it uses the port. */
  lock: string;
}

/** The VM's agent ports, isola.agent first; the locks live in the instance's folder (`dir`), which QEMU's jail does not see. */
export function agentPortsOf(v: Pick<VmData, 'pid' | 'pidStartTime' | 'bootId' | 'files'>, dir: string): AgentPort[] {
  const sockets = [v.files.agent, ...(v.files.agents ?? [])];
  return sockets.map((s, i) => ({ socket: reachablePath(v, s), lock: path.join(dir, `agent${i}.lock`) }));
}

export interface AgentSession {
  conn: AgentConnection;
  /** Which port (0 is isola.agent). */
  port: number;
  /** Closes the connection and frees the port. */
  release: () => void;
}

export interface OpenOptions {
  /** How long to wait for a free port (AGENT_WAIT_MS by default). */
  waitMs?: number;
  /** How long the guest has to answer on a port once it is ours. */
  connectMs?: number;
  /** Aborted (a health check past its timeout): stop waiting; resolves null. */
  signal?: AbortSignal;
  /** The VM's name, for the error. */
  name: string;
}

/**
 * A session on a free agent port: tries each port in order, and a port whose socket is busy
 * anyway (EAGAIN: a client that takes no lock, such as an isola from before the locks, holds
 * it) counts as taken. Waits between rounds, 2 ms growing to 200 ms.
 */
export async function openAgentSession(ports: readonly AgentPort[], opts: OpenOptions): Promise<AgentSession | null> {
  const waitMs = opts.waitMs ?? AGENT_WAIT_MS;
  const deadline = Date.now() + waitMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 200)) {
    for (const [i, p] of ports.entries()) {
      if (opts.signal?.aborted) return null;
      const unlock = tryLock(p.lock);
      if (!unlock) continue;
      try {
        const conn = await AgentConnection.connect(p.socket, opts.connectMs ?? 10_000);
        return {
          conn,
          port: i,
          release: () => {
            conn.close();
            unlock();
          },
        };
      } catch (e) {
        unlock();
        if (!isIsolaError(e, 'UNAVAILABLE') || !/EAGAIN/.test((e as Error).message)) throw e;
      }
    }
    if (opts.signal?.aborted) return null;
    if (Date.now() > deadline) {
      throw new IsolaError('TIMEOUT', `all ${ports.length} agent ports of VM ${opts.name} were busy for more than ${Math.round(waitMs / 1000)} s (${ports.length} exec sessions run at once at most; an exec -it holds one until it ends)`, 'end one of those sessions, then try again');
    }
    await sleep(delay);
  }
}
