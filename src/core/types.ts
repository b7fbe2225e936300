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
  // ---- networking: published ports ----
  /** The image's EXPOSE ports ("80/tcp", "53/udp"), for `-P`; absent in specs made before. */
  exposedPorts?: string[];
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

export type NetworkSpec = { mode: 'none' } | BridgeNetworkSpec;

/** One interface of an instance on one of isola's bridges. */
export interface BridgeNetworkSpec {
  mode: 'bridge';
  bridge: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  mac: string;
  // ---- networking: user networks (optional: specs made before them lack these) ----
  /** The network's id: `bridge` for the default network (isola0), else a user network's id. Absent: `bridge`. */
  networkId?: string;
  /** The network's name, as `--network` and `network connect` name it. Absent: `bridge`. */
  networkName?: string;
  /** The interface's name inside the instance. Absent: eth0. */
  ifname?: string;
}

/** One `--add-host NAME:IP` entry. */
export interface HostEntry {
  host: string;
  ip: string;
}

/** `--dns`, `--dns-search`, `--dns-option`: each list, when not empty, replaces the host's. */
export interface DnsSettings {
  servers: string[];
  search: string[];
  options: string[];
}

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
  /**
   * run --rm: what the instance writes is thrown away when it exits, so a driver may skip
   * durability work (a VM's disk flushes and its clean read-only remount at power-off).
   * Absent in specs of older instances: durable.
   */
  disposable?: boolean;
  network: NetworkSpec;
  // ---- networking: user networks, /etc/hosts and resolv.conf (optional: older specs lack them) ----
  /** Networks joined besides `network` (`network connect`), each its own interface (eth1, ...). */
  moreNetworks?: BridgeNetworkSpec[];
  /** `--add-host` entries, written to the instance's /etc/hosts. */
  extraHosts?: HostEntry[];
  /** `--dns`, `--dns-search`, `--dns-option`; absent: the host's resolv.conf, filtered. */
  dns?: DnsSettings;
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
  // ---- volumes and shared folders (-v, --mount, --tmpfs) ----
  /** What is mounted into the instance, resolved at create (host paths real, volumes named). Absent: nothing. */
  mounts?: MountSpec[];

  // ---- terminals (run -i/-t, attach): optional, specs of older instances lack them ----
  /** -t: the workload runs on a pseudo-terminal (one stream: stdout and stderr merged). */
  tty?: boolean;
  /** -i: the workload's stdin stays open for a client to write to (attach). */
  stdinOpen?: boolean;
  /**
   * With stdinOpen: the first attached client's end of input (or its going away) closes the
   * workload's stdin, as Docker's StdinOnce (a foreground `run -i`); otherwise stdin outlives
   * every client (`run -di`).
   */
  stdinOnce?: boolean;

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

  // ---- compose (stacks, docs/COMPOSE.md). Optional: other instances lack it. ----
  /**
   * More names the instance answers to on its user networks, besides its own (Docker's
   * --network-alias): a compose service's name, shared by its replicas.
   */
  aliases?: string[];
  /** The workload's log file is started again empty when it would grow past this (--log-opt max-size). */
  logMaxBytes?: number;

  // ---- machines: containers placed in a long-lived VM (`run --machine`, docs/MACHINES.md).
  // Optional: instances made before, and every instance not placed in a machine, lack it. ----
  /** The machine (`isola machine`) whose guest runs this container (kind hybrid): its id and name. */
  machine?: PlacedIn;
}

/** Where a container placed in a machine lives. */
export interface PlacedIn {
  /** The machine's id (64 hex characters). */
  id: string;
  name: string;
  /** The machine's address (the container's own, before containers had their own network). */
  ip: string;
  // ---- machines: per-container network (optional: containers placed before lack it) ----
  /**
   * The container has its own network namespace in the guest: with its own address on isola0
   * (spec.network, routed by the machine through a veth pair, proxy ARP on the machine's NIC),
   * or only loopback (--network none). Absent: it shares the machine's network and address.
   */
  netns?: true;
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

// ---- volumes and shared folders (-v, --mount, --tmpfs) ----

/** Docker's bind propagation modes; rprivate is the default. */
export type MountPropagation = 'rprivate' | 'private' | 'rshared' | 'shared' | 'rslave' | 'slave';
export const MOUNT_PROPAGATIONS: readonly MountPropagation[] = ['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'];

/**
 * One mount of an instance, as the drivers get it. `bind` and `volume` both mount a host folder
 * (`source`, an absolute real path: a volume's is its `_data` folder under the data root); a
 * container binds it, a VM shares it over virtiofs. `tmpfs` is memory inside the instance.
 */
export type MountSpec =
  | {
    type: 'bind' | 'volume';
    source: string;
    /** Absolute, cleaned path inside the instance. */
    target: string;
    readOnly: boolean;
    propagation: MountPropagation;
    /** For volumes: the volume's name, and whether it is anonymous (removed with rm -v and run --rm). */
    volume?: string;
    anonymous?: boolean;
  }
  | { type: 'tmpfs'; target: string; readOnly: boolean; sizeBytes?: number; mode?: number; noExec?: boolean };

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
  // ---- block I/O (isola serve's /metrics, docker stats) ----
  /** Bytes read from block devices since start (a container's cgroup io.stat; a VM's disks as QEMU counts them); absent or null when unknown. */
  blockReadBytes?: number | null;
  /** Bytes written to block devices since start, counted as blockReadBytes is. */
  blockWriteBytes?: number | null;
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
  /** exec -t: run the command on a pseudo-terminal of this size (its output all goes to stdout). */
  tty?: ClientTerminal;
}

/** A terminal's window size, in character cells. */
export interface TerminalSize {
  rows: number;
  cols: number;
}

/** The client's terminal, as a driver sees it: its size now (null when unknown) and its changes. */
export interface ClientTerminal {
  size: TerminalSize | null;
  /** Calls `listener` on every change of the client's window size; returns the unsubscribe. */
  onResize(listener: (size: TerminalSize) => void): () => void;
}

/** What a client connects to an instance's streams (run -i/-t, attach). */
export interface AttachIO {
  /** The client's input for the workload's stdin; null: output only. */
  stdin: Readable | null;
  stdout: Writable;
  /** The workload's stderr (without a tty; with one, everything comes on stdout). */
  stderr: Writable;
  /** With a tty: the client's window size to apply as the session begins. */
  size?: TerminalSize | null;
}

/** A live connection to an instance's streams. Closing it leaves the workload running. */
export interface AttachSession {
  /** Applies a new window size to the instance's terminal (ignored without a tty). */
  resize(size: TerminalSize): void;
  /** Resolves when the stream ended: the workload exited and its output was passed on, or close() was called. */
  readonly done: Promise<void>;
  /** Detaches: stops relaying; the workload keeps running (and keeps its stdin unless stdinOnce). */
  close(): void;
}

export interface Capability {
  ok: boolean;
  /** Why not, with the fix, when ok is false. */
  reason?: string;
  /** Facts for `isola host`: versions, accelerator, runtime. */
  details: Record<string, string>;
}

/** What a path inside an instance is (isola cp). */
export type PathKind = 'dir' | 'file' | 'symlink' | 'other' | 'missing';

/**
 * What the engine stores for an instance on behalf of its driver: a JSON object. Only the
 * driver that wrote it can read it, through its own `decode`.
 */
export type StoredData = Record<string, unknown>;
