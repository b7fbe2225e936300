import type { DeviceMapping, Kind, RestartPolicy, Ulimit } from '../core/types.js';
import type { PortMapping } from '../net/publish.js';
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
  network: 'none' | 'bridge';
  publish: PortMapping[];
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
}

export function defaultRunRequest(image: string, command: string[] = []): RunRequest {
  return {
    image, command, kind: 'container', env: [], readOnly: false, network: 'bridge', publish: [], detach: false, autoRemove: false,
    privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true,
  };
}
