import type { Engine } from '../engine/engine.js';
import type { Hijacked } from './http.js';
import type { TerminalSize } from '../core/types.js';
import type { BrowserSessions } from './browser.js';

/** A client attached to a created container before its start (`docker run` attaches, then starts). */
export interface PendingAttach {
  conn: Hijacked;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** What every handler shares: the one Engine of this process, and the server's own in-memory tables. */
export interface ApiContext {
  engine: Engine;
  /** Exec instances (Docker keeps them in memory too; they are gone when the server restarts). */
  execs: Map<string, ExecRecord>;
  /** Attach connections waiting for their container's start, by instance id. */
  pendingAttach: Map<string, PendingAttach[]>;
  /** Resolved when the server shuts down: long streams (logs -f, events, stats) end then. */
  closing: AbortSignal;
  /** Dashboard sessions, for the browser's cookie and CSRF token. */
  browser: BrowserSessions;
}

/** An exec instance: created by one request, started by another, inspected for its exit status. */
export interface ExecRecord {
  id: string;
  instanceId: string;
  argv: string[];
  env: string[];
  workdir?: string;
  user?: string;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  size: TerminalSize | null;
  resizers: Set<(s: TerminalSize) => void>;
  createdAt: number;
}

