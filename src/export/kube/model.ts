import type { Kind } from '../../core/types.js';
import type { HealthConfig } from '../../image/layout.js';

/**
 * What `isola kube generate` and `isola plan --kube` know about one workload, whatever it came
 * from (an instance, an image with run flags, a plan's inventory): the neutral description the
 * manifest writers (deployment.ts, kubevirt.ts, service.ts, ...) turn into Kubernetes objects.
 */
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export const SERVICE_TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer'];

export interface KubePort {
  /** The port the workload listens on inside its pod or VM. */
  containerPort: number;
  /** The Service's port for it; absent: declared on the container only (the image's EXPOSE). */
  servicePort?: number;
  /** Absent: TCP. */
  protocol?: 'TCP' | 'UDP';
}

export type KubeVolumeSource =
  | { type: 'named'; name: string } // an isola/Docker named volume: a PersistentVolumeClaim
  | { type: 'host'; path: string } // a host bind mount: hostPath, with a warning
  | { type: 'anonymous'; fromImage: boolean } // the image's VOLUME or -v PATH: an emptyDir, with a warning
  | { type: 'tmpfs'; sizeBytes?: number }; // --tmpfs: an emptyDir in memory

export interface KubeVolume {
  source: KubeVolumeSource;
  /** Absolute path inside the workload. */
  target: string;
  readOnly: boolean;
}

export interface KubeSecurity {
  privileged: boolean;
  /** Capability names as Kubernetes spells them: without the CAP_ prefix. */
  capAdd: string[];
  capDrop: string[];
  /** 'default', 'unconfined', or a path to a JSON profile (isola's --security-opt seccomp=). */
  seccomp: string;
  noNewPrivileges: boolean;
  readOnlyRoot: boolean;
  /** A numeric user (and group): Kubernetes takes no user names. */
  runAsUser?: number;
  runAsGroup?: number;
}

export interface KubeWorkload {
  /** The name as isola knows it (instance or workload name); names.ts makes it a Kubernetes name. */
  name: string;
  kind: Kind;
  /** The OCI image the pod runs (container, hybrid); for vm, what the disk was exported from. */
  image: string;
  /** vm: the containerDisk image holding the VM's disk (isola kube containerdisk). */
  containerDisk?: string;
  replicas: number;
  memoryBytes?: number;
  cpus?: number;
  /** Replaces the image's ENTRYPOINT (and, as in Docker, drops its CMD when `args` is absent). */
  command?: string[];
  /** Replaces the image's CMD. */
  args?: string[];
  /** Environment beyond the image's own (Kubernetes keeps the image's ENV). */
  env: { name: string; value: string }[];
  workdir?: string;
  hostname?: string;
  ports: KubePort[];
  serviceType: ServiceType;
  health?: HealthConfig;
  volumes: KubeVolume[];
  security: KubeSecurity;
  /** --stop-timeout: the pod's terminationGracePeriodSeconds. */
  stopTimeoutSec?: number;
  /** --label: annotations on the pod template (Docker labels are free text; Kubernetes labels are not). */
  annotations?: Record<string, string>;
  /** --add-host: the pod's hostAliases, one per address. */
  hostAliases?: { ip: string; hostnames: string[] }[];
  /** --dns, --dns-search, --dns-option: the pod's dnsConfig (with --dns, dnsPolicy None). */
  dns?: { servers: string[]; search: string[]; options: string[] };
  /** -t and -i: the container's tty, stdin and stdinOnce (Docker's -t, -i and a foreground -i). */
  terminal?: { tty: boolean; stdin: boolean; stdinOnce: boolean };
  /** --network none: a NetworkPolicy that denies all traffic (pods), no interface at all (VMs). */
  isolatedNetwork: boolean;
  /** container with --runtime runsc: the RuntimeClass a gVisor cluster names (gvisor). */
  runtimeClass?: string;
  /** Where it came from, for the comment above its manifests ("instance web", "image nginx:1"). */
  origin: string;
}

export function defaultSecurity(): KubeSecurity {
  return { privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true, readOnlyRoot: false };
}

/** A Kubernetes object as written: plain data, with an optional comment above it in the YAML. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Manifest {
  object: KubeObject;
  /** Lines written as YAML comments above the object (why a value is what it is). */
  comment?: string[];
}
