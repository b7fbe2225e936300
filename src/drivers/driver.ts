import type { Readable, Writable } from 'node:stream';
import type { AttachIO, AttachSession, BridgeNetworkSpec, Capability, ExecOptions, ExitInfo, InstanceSpec, Kind, LogEntry, Observed, PathKind, ProcessInfo, ResourceUpdate, Stats, StoredData } from '../core/types.js';
import type { Config } from '../core/config.js';
import { pathsFor, type Paths } from '../core/paths.js';
import { CacheLayout } from '../core/cache-layout.js';

/** How `logs` reads: to the end, or following; `writerGone` settles when the caller saw the workload end. */
export interface LogsOptions {
  follow: boolean;
  signal?: AbortSignal;
  /** A foreground run's wait for the exit: the follow ends as soon as it settles, not a nap later. */
  writerGone?: Promise<unknown>;
}

/**
 * The one interface between the engine and an isolation kind. The engine never talks to runc
 * or QEMU; it talks to a Driver. Every Driver passes the same contract suite
 * (test/contract/driver-contract.ts), with its known gaps listed there with a reason.
 *
 * Drivers are stateless objects: everything they need to find an instance again later (from
 * another isola process, after a crash) is in the InstanceSpec and the data `D` they return,
 * which the engine stores in SQLite as JSON and gives back through `decode`.
 */
export interface Driver<D extends StoredData> {
  readonly kind: Kind;
  /**
   * Reads back what create or start returned, as stored; null when create never finished
   * (a crash, or a failure, before the driver returned anything).
   */
  decode(stored: StoredData): D | null;
  /** Can this host run this kind right now? Cheap enough to call per command. */
  probe(): Promise<Capability>;
  /** Prepares everything (root file system or disk, config) without starting the workload. */
  create(spec: InstanceSpec): Promise<D>;
  /**
   * Starts the workload; returns updated data (pids, sockets). Whatever it launches that
   * outlives it (a monitor, a VMM) it reports through `checkpoint` as soon as it exists and
   * before it waits on it, so a process killed meanwhile leaves a record to clean up from.
   * With `attach` (a foreground `run -i/-t`), the client's streams are connected before the
   * workload's first output is read, so nothing is missed; the session goes to `attach.attached`.
   */
  start(spec: InstanceSpec, data: D, checkpoint?: (data: D) => void, attach?: StartAttach): Promise<D>;
  /**
   * Connects a client to the running workload's streams (`isola attach`): its stdin when the
   * instance keeps it open, its output from now on (what came before is in `logs`), and with a
   * tty the terminal's window size. Refused when the instance is not running.
   */
  attach(spec: InstanceSpec, data: D, io: AttachIO): Promise<AttachSession>;
  /** What is really going on, from the host's point of view (used for reconciliation). */
  observe(spec: InstanceSpec, data: D): Promise<Observed>;
  /** Resolves when the workload has exited. */
  wait(spec: InstanceSpec, data: D): Promise<ExitInfo>;
  /** Asks the workload to stop (SIGTERM or ACPI-style), kills it after timeoutSec. */
  stop(spec: InstanceSpec, data: D, timeoutSec: number): Promise<void>;
  kill(spec: InstanceSpec, data: D, signal: string): Promise<void>;
  /**
   * Releases what only a running instance needs (mounts, network, processes). Idempotent.
   * With null data (create never finished) it releases whatever the spec alone can name.
   */
  cleanup(spec: InstanceSpec, data: D | null): Promise<void>;
  /** Deletes everything the instance left on disk. Called after cleanup. Idempotent. */
  remove(spec: InstanceSpec, data: D | null): Promise<void>;
  /** Runs argv inside the running instance; resolves with its exit status. */
  exec(spec: InstanceSpec, data: D, argv: string[], opts: ExecOptions): Promise<number>;
  /** The workload's own output, never the kernel's or the monitor's. */
  logs(spec: InstanceSpec, data: D, opts: LogsOptions): AsyncIterable<LogEntry>;
  stats(spec: InstanceSpec, data: D): Promise<Stats>;
  /**
   * `start` also starts an instance that ran before and was cleaned up (an exited instance, a
   * restart): with the same root file system or disk, as Docker restarts the same container.
   */
  // ---- lifecycle (docs/LIFECYCLE.md) ----
  /** Freezes every process of the running workload (containers: cgroup freezer; VMs: the vCPUs). */
  pause(spec: InstanceSpec, data: D): Promise<void>;
  /** Undoes pause. */
  resume(spec: InstanceSpec, data: D): Promise<void>;
  /**
   * New resource limits: applied to the running instance where the kind can (a limit below what
   * it uses now is an INVALID_ARGUMENT), refused with the reason where it cannot, and kept for
   * its next start either way. Returns the data to store.
   */
  update(spec: InstanceSpec, data: D, change: ResourceUpdate, running: boolean): Promise<D>;
  /** The workload's processes. */
  top(spec: InstanceSpec, data: D): Promise<ProcessInfo[]>;
  /**
   * Optional, for the security profile: runs `sh -c script sh PID` on the kernel that runs the
   * workload but outside the workload's own sandbox (in the guest, beside a container that runs
   * there), PID being the workload's pid on that kernel; resolves with its stdout. Drivers
   * without it are measured from the host's /proc or through exec.
   */
  runOnWorkloadKernel?(spec: InstanceSpec, data: D, script: string): Promise<string>;
  /**
   * Optional: what the workload changed in its root file system, as an OCI layer tar written to
   * `tarFile` (for `isola build` and `isola commit`). Works on a stopped instance too.
   */
  exportChanges?(spec: InstanceSpec, data: D, tarFile: string): Promise<void>;
  /**
   * Optional (`docker export`): the instance's whole root file system as a tar on `out`, running
   * or stopped. Without it the kind's files are not readable from the host, and export is refused.
   */
  exportFs?(spec: InstanceSpec, data: D, out: Writable): Promise<void>;
  // ---- isola cp: a tar stream in and out of a running instance, paths resolved inside it ----
  /** What `path` (absolute, inside the instance) is; `follow` follows it when it is a symlink. */
  statPath(spec: InstanceSpec, data: D, path: string, follow: boolean): Promise<PathKind>;
  /** Writes a tar of `path` to `out`, its top entry named after the path's last name. */
  copyOut(spec: InstanceSpec, data: D, path: string, out: Writable, opts: { follow: boolean }): Promise<void>;
  /** Extracts the tar `input` into the existing folder `dir` (absolute, inside the instance); `owner` replaces the archive's owners. */
  copyIn(spec: InstanceSpec, data: D, dir: string, input: Readable, opts: { owner?: { uid: number; gid: number } }): Promise<void>;
  // ---- networking: user networks and names ----
  /**
   * Optional: gives a running (or created, where its network namespace exists from create on)
   * instance one more interface (`network connect`); `spec` already lists it. Without it,
   * connect and disconnect are refused while the instance runs (a VM's NICs are fixed at boot);
   * an instance that is not running gets its interfaces at its next start.
   */
  attachNetwork?(spec: InstanceSpec, data: D, net: BridgeNetworkSpec): Promise<void>;
  /**
   * Optional: removes an interface of a running instance (`network disconnect`); `spec` no longer
   * lists it; `newFirst`, when the removed one was the first, is the interface that now gives the
   * default route.
   */
  detachNetwork?(spec: InstanceSpec, data: D, net: BridgeNetworkSpec, newFirst: BridgeNetworkSpec | null): Promise<void>;
  /**
   * Optional: a running instance whose /etc/hosts and resolv.conf are copies of its own (a VM's
   * guest) gets the instance folder's current ones. Containers bind-mount the files themselves
   * and need nothing.
   */
  refreshEtc?(spec: InstanceSpec, data: D): Promise<void>;
  // ---- snapshots (docs/SNAPSHOTS.md): optional; a kind without them is refused with the reason ----
  /**
   * Keeps the instance's disk or writable layer as it is now under `snap`. `now`: running, the
   * workload runs, and the driver holds it still (freezer, QMP stop) while it copies, for a
   * consistent state. Resolves with the bytes the snapshot holds.
   */
  snapshotCreate?(spec: InstanceSpec, data: D, snap: SnapshotRef, now: SnapshotWhile): Promise<{ bytes: number }>;
  /** Puts the disk or writable layer back exactly as `snap` kept it. The instance is not running. */
  snapshotRestore?(spec: InstanceSpec, data: D, snap: SnapshotRef): Promise<void>;
  /** Deletes what `snap` holds (idempotent); `now` as for create. */
  snapshotRemove?(spec: InstanceSpec, data: D, snap: SnapshotRef, now: SnapshotWhile): Promise<void>;
}

/** What the instance is doing while a snapshot is made or removed (paused: by the user, leave it so). */
export type SnapshotWhile = 'stopped' | 'running' | 'paused';

/** One snapshot as a driver sees it: its id names its files (under `dir`) or its qcow2 tag. */
export interface SnapshotRef {
  id: string;
  /** `<instance dir>/snapshots/<id>`: the driver's to fill (removed with the instance). */
  dir: string;
}

/** `start`'s request to connect a client before the workload's output is read. */
export interface StartAttach extends AttachIO {
  attached(session: AttachSession): void;
}

/** A driver as the engine holds it: its data is what the database stores. */
export type AnyDriver = Driver<StoredData>;

/** What a driver is built with: the configuration and the data root it serves. */
export interface DriverContext {
  config: Config;
  paths: Paths;
  cache: CacheLayout;
}

export function driverContext(config: Config): DriverContext {
  const paths = pathsFor(config.root);
  return { config, paths, cache: new CacheLayout(paths.cache) };
}
