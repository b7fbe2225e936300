import type { Readable, Writable } from 'node:stream';

/**
 * The shared vocabulary of isola: what an instance is (InstanceSpec), what an image resolves
 * to, how an instance is networked and secured, and what a driver reports back. Every layer
 * speaks it; it imports nothing of isola, so image/, net/ and state/ need not know drivers/.
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
  // ---- lifecycle (restart, health, stop signal, labels): what the image config says ----
  /** The image's HEALTHCHECK (Docker's Healthcheck object, durations in nanoseconds). */
  healthcheck?: ImageHealthcheck;
  /** The image's STOPSIGNAL, e.g. SIGQUIT. */
  stopSignal?: string;
  /** The image's LABELs. */
  labels?: Record<string, string>;
}

/** Docker's Healthcheck image config object: Test is ["NONE"], ["CMD", argv...] or ["CMD-SHELL", command]. */
export interface ImageHealthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
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
  /** Argv that re-enters isola to clean up after the instance exits on its own. */
  cleanupCommand: string[];

  // ---- lifecycle: restart policy, health check, stop signal, labels, ulimits, init, devices,
  // log size (docs/LIFECYCLE.md). Optional: instances created by older versions lack them. ----
  /** What happens when the workload exits (Docker's --restart); absent means `no`. */
  restart?: RestartPolicy;
  /** The health check in force (the image's HEALTHCHECK overlaid with --health-*); absent means none. */
  health?: HealthSpec;
  /** The signal `stop` sends first (--stop-signal, else the image's STOPSIGNAL); absent means SIGTERM. */
  stopSignal?: string;
  /** Seconds `stop` waits before SIGKILL when -t is not given (--stop-timeout); absent means 10. */
  stopTimeout?: number;
  /** The image's labels overlaid with --label. */
  labels?: Record<string, string>;
  /** Resource limits for the workload's processes (--ulimit). */
  ulimits?: Ulimit[];
  /** Run a tiny init (tini) as PID 1 that reaps zombies and passes signals on (--init). */
  init?: boolean;
  /** Host devices given to the workload (--device; containers only). */
  devices?: DeviceMapping[];
  /** The workload's log file is started again empty when it would grow past this (--log-opt max-size). */
  logMaxBytes?: number;
}

// ---- lifecycle vocabulary ----

export type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure only: how many restarts at most; 0 means no limit. */
  maxRetries: number;
}

/** A health check, resolved: the command as argv, durations in milliseconds. */
export interface HealthSpec {
  /** ["CMD", argv...] or ["CMD-SHELL", command], as Docker stores it. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  /** The interval during the start period (Docker's --health-start-interval). */
  startIntervalMs: number;
  retries: number;
}

export interface Ulimit {
  /** Docker's name: nofile, nproc, core, ... */
  name: string;
  /** -1 means unlimited. */
  soft: number;
  hard: number;
}

export interface DeviceMapping {
  hostPath: string;
  containerPath: string;
  /** Any of r, w, m. */
  permissions: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** What `isola update` changes on an instance. */
export interface ResourceUpdate {
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number;
}

/** One process of an instance, as `isola top` lists it (ps -ef's columns). */
export interface ProcessInfo {
  uid: string;
  pid: number;
  ppid: number;
  /** Cumulative CPU time, in seconds. */
  cpuSeconds: number;
  /** Start time as ps shows it (HH:MM or a date), where known. */
  started: string;
  cmd: string;
}

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
  /** Aborting it kills the command (a health check past its timeout); exec then resolves 137. */
  signal?: AbortSignal;
}

export interface Capability {
  ok: boolean;
  /** Why not, with the fix, when ok is false. */
  reason?: string;
  /** Facts for `isola host`: versions, accelerator, runtime. */
  details: Record<string, string>;
}

/**
 * What the engine stores for an instance on behalf of its driver: a JSON object. Only the
 * driver that wrote it can read it, through its own `decode`.
 */
export type StoredData = Record<string, unknown>;
