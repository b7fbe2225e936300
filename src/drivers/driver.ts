import type { Readable, Writable } from 'node:stream';

/**
 * The one interface between the engine and an isolation kind. The engine never talks to runc
 * or QEMU; it talks to a Driver. Every Driver passes the same contract suite
 * (test/contract/driver-contract.ts), with its known gaps listed there with a reason.
 *
 * Drivers are stateless objects: everything they need to find an instance again later (from
 * another isola process, after a crash) is in the InstanceSpec and the JSON `DriverData` they
 * return, which the engine stores in SQLite.
 */
export type Kind = 'container' | 'vm' | 'hybrid';
export const KINDS: readonly Kind[] = ['container', 'vm', 'hybrid'];

/** The parts of an OCI image config a driver needs to run it. */
export interface ImageRuntimeConfig {
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  user: string;
}

export interface ResolvedImage {
  /** name:tag as stored in the image index. */
  ref: string;
  /** sha256:... of the manifest: the identity of the image. */
  digest: string;
  /** Absolute paths of the layer blobs, bottom layer first (tar, possibly gzip-compressed). */
  layers: string[];
  layerDigests: string[];
  config: ImageRuntimeConfig;
}

export type NetworkSpec =
  | { mode: 'none' }
  | { mode: 'bridge'; bridge: string; ip: string; prefixLength: number; gateway: string; mac: string };

export interface SecuritySpec {
  privileged: boolean;
  capAdd: string[]; // upper case, with the CAP_ prefix
  capDrop: string[]; // 'ALL' allowed
  /** 'default' (containers-common profile), 'unconfined', or an absolute path to a JSON profile. */
  seccomp: string;
  noNewPrivileges: boolean;
}

export interface InstanceSpec {
  id: string; // 64 hex characters
  name: string;
  kind: Kind;
  image: ResolvedImage;
  /** The final argv: entrypoint + cmd, after the user's overrides. */
  argv: string[];
  env: string[]; // KEY=VALUE, image env overlaid with -e
  workdir: string;
  user: string; // uid[:gid] or name, '' means the image's (or root)
  hostname: string;
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number;
  readOnly: boolean;
  network: NetworkSpec;
  security: SecuritySpec;
  /** container and hybrid: which OCI runtime (runc, crun, runsc). */
  runtime: string;
  /** vm and hybrid: another kernel or initrd than the bundled guest kernel. */
  kernel?: string;
  initrd?: string;
  /** Persistent folder for this instance (bundle, disks, logs). Created by the engine. */
  dir: string;
  /** Runtime folder (sockets, pidfiles, exit files). Created by the engine. */
  runDir: string;
  /** The data root's cache folder, shared by instances: unpacked images, root disks per image digest. */
  cacheDir: string;
  /** Argv that re-enters isola to clean up after the instance exits on its own. */
  cleanupCommand: string[];
}

/** Whatever a driver needs to remember about an instance; JSON-serialisable. */
export type DriverData = Record<string, unknown>;

export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
  finishedAt: string; // ISO 8601
}

export type Observed =
  | { state: 'created' }
  | { state: 'running'; pid: number }
  | { state: 'exited'; exit: ExitInfo };

export interface LogEntry {
  time: string; // ISO 8601 with nanoseconds where the monitor gives them
  stream: 'stdout' | 'stderr';
  /** The text of one line without its newline; `partial` when the line did not end yet. */
  text: string;
  partial: boolean;
}

export interface Stats {
  time: string;
  cpuNanos: number; // cumulative CPU time of the workload
  memoryBytes: number; // memory in use by the workload (cgroup usage or guest used memory)
  memoryLimitBytes: number | null;
  pids: number | null;
  netRxBytes: number | null;
  netTxBytes: number | null;
  /** Host memory the isolation itself costs (monitor, VMM), where the driver can tell. */
  hostOverheadBytes: number | null;
}

export interface ExecOptions {
  env?: string[];
  workdir?: string;
  user?: string;
  stdin?: Readable | null;
  stdout: Writable;
  stderr: Writable;
}

export interface Capability {
  ok: boolean;
  /** Why not, with the fix, when ok is false. */
  reason?: string;
  /** Facts for `isola host`: versions, accelerator, runtime. */
  details: Record<string, string>;
}

export interface Driver {
  readonly kind: Kind;
  /** Can this host run this kind right now? Cheap enough to call per command. */
  probe(): Promise<Capability>;
  /** Prepares everything (root file system or disk, config) without starting the workload. */
  create(spec: InstanceSpec): Promise<DriverData>;
  /** Starts the workload; returns updated data (pids, sockets). */
  start(spec: InstanceSpec, data: DriverData): Promise<DriverData>;
  /** What is really going on, from the host's point of view (used for reconciliation). */
  observe(spec: InstanceSpec, data: DriverData): Promise<Observed>;
  /** Resolves when the workload has exited. */
  wait(spec: InstanceSpec, data: DriverData): Promise<ExitInfo>;
  /** Asks the workload to stop (SIGTERM or ACPI-style), kills it after timeoutSec. */
  stop(spec: InstanceSpec, data: DriverData, timeoutSec: number): Promise<void>;
  kill(spec: InstanceSpec, data: DriverData, signal: string): Promise<void>;
  /** Releases what only a running instance needs (mounts, network, processes). Idempotent. */
  cleanup(spec: InstanceSpec, data: DriverData): Promise<void>;
  /** Deletes everything the instance left on disk. Called after cleanup. Idempotent. */
  remove(spec: InstanceSpec, data: DriverData): Promise<void>;
  /** Runs argv inside the running instance; resolves with its exit status. */
  exec(spec: InstanceSpec, data: DriverData, argv: string[], opts: ExecOptions): Promise<number>;
  /** The workload's own output, never the kernel's or the monitor's. */
  logs(spec: InstanceSpec, data: DriverData, opts: { follow: boolean; signal?: AbortSignal }): AsyncIterable<LogEntry>;
  stats(spec: InstanceSpec, data: DriverData): Promise<Stats>;
  /**
   * Optional, for the security profile: runs `sh -c script sh PID` on the kernel that runs the
   * workload but outside the workload's own sandbox (in the guest, beside a container that runs
   * there), PID being the workload's pid on that kernel; resolves with its stdout. Drivers
   * without it are measured from the host's /proc or through exec.
   */
  runOnWorkloadKernel?(spec: InstanceSpec, data: DriverData, script: string): Promise<string>;
}
