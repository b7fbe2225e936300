import type { DeviceMapping, DnsSettings, HostEntry, Kind, RestartPolicy, Ulimit } from '../core/types.js';
import type { PortMapping } from '../net/publish.js';
import type { MountRequest } from './mount-flags.js';
import type { HealthFlags } from './health.js';

/** What `isola run` / `create` asks for, after the CLI parsed its flags. */
export interface RunRequest {
  image: string;
  command: string[]; // overrides the image's Cmd when non-empty
  entrypoint?: string;
  kind: Kind;
  name?: string;
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number;
  readOnly: boolean;
  /** `none`, `bridge` (the default network, isola0) or a user network's name or id. */
  network: string;
  publish: PortMapping[];
  // ---- networking: -P, --add-host, --dns* ----
  /** `-P`: publish every port the image exposes, each on a free host port. */
  publishAll?: boolean;
  extraHosts?: HostEntry[];
  dns?: DnsSettings;
  detach: boolean;
  autoRemove: boolean;
  runtime?: string;
  kernel?: string;
  initrd?: string;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  seccomp: string;
  noNewPrivileges: boolean;
  // ---- volumes and shared folders ----
  /** -v, --mount and --tmpfs, in the order given. */
  mounts?: MountRequest[];
  // ---- terminals ----
  /** -t: run the workload on a pseudo-terminal. */
  tty?: boolean;
  /** -i: keep the workload's stdin open (and, in the foreground, pass the client's stdin to it). */
  interactive?: boolean;

  // ---- lifecycle (docs/LIFECYCLE.md): restart policy, health check, stop, labels, limits ----
  restart?: RestartPolicy;
  /** --health-* and --no-healthcheck, as given; merged with the image's HEALTHCHECK at create. */
  health?: HealthFlags;
  stopSignal?: string;
  stopTimeout?: number;
  /** --label, overlaid on the image's labels. */
  labels?: Record<string, string>;
  ulimits?: Ulimit[];
  init?: boolean;
  devices?: DeviceMapping[];
  logMaxBytes?: number;

  // ---- the Docker Engine API (isola serve) ----
  /**
   * Docker's StdinOnce: the first attached client's end of input closes the workload's stdin.
   * Absent: a foreground run's -i (the CLI's rule); an API create says it explicitly.
   */
  stdinOnce?: boolean;

  // ---- compose (stacks, docs/COMPOSE.md) ----
  /** More names on its user networks (Docker's --network-alias): a compose service's name. */
  aliases?: string[];
  // ---- machines (docs/MACHINES.md) ----
  /** `--machine NAME`: place the container in this machine's guest (kind hybrid), not a VM of its own. */
  machine?: string;
}

export function defaultRunRequest(image: string, command: string[] = []): RunRequest {
  return {
    image, command, kind: 'container', env: [], readOnly: false, network: 'bridge', publish: [], detach: false, autoRemove: false,
    privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true,
  };
}
