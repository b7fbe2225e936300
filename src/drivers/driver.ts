import type { Capability, ExecOptions, ExitInfo, InstanceSpec, Kind, LogEntry, Observed, ProcessInfo, ResourceUpdate, Stats, StoredData } from '../core/types.js';
import type { Config } from '../core/config.js';
import { pathsFor, type Paths } from '../core/paths.js';
import { CacheLayout } from '../core/cache-layout.js';

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
   */
  start(spec: InstanceSpec, data: D, checkpoint?: (data: D) => void): Promise<D>;
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
  logs(spec: InstanceSpec, data: D, opts: { follow: boolean; signal?: AbortSignal }): AsyncIterable<LogEntry>;
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
