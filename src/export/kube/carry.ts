import type { HealthSpec, Kind } from '../../core/types.js';
import type { ImageFacts } from './image-facts.js';
import type { KubePort, KubeSecurity, KubeVolume } from './model.js';
import type { Warnings } from './warnings.js';

/**
 * The settings an instance and `kube generate --image` flags carry over the same way: user,
 * ports, image facts, runtime and kernel choices, and the image's name.
 */

/** uid[:gid] as numbers; a user name has no Kubernetes field (runAsUser is numeric): warned. */
export function userOf(user: string, imageUser: string, subject: string, warnings: Warnings): Pick<KubeSecurity, 'runAsUser' | 'runAsGroup'> {
  if (user === '' || user === imageUser) return {}; // the image's own USER: Kubernetes applies it too
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (m) return { runAsUser: Number(m[1]), ...(m[2] !== undefined ? { runAsGroup: Number(m[2]) } : {}) };
  warnings.add(subject, `user "${user}" not carried over: Kubernetes takes a numeric runAsUser (give -u UID[:GID])`);
  return {};
}

/** -p HOST:PORT mappings as Service ports; a host address other than all of them is named. */
export function publishedPorts(ports: { hostIp: string; hostPort: number; instancePort: number; protocol?: string }[], subject: string, warnings: Warnings): KubePort[] {
  return ports.map((p) => {
    if (p.hostIp !== '0.0.0.0' && p.hostIp !== '') {
      warnings.add(subject, `-p ${p.hostIp}:${p.hostPort}:${p.instancePort}: a Service has no host address to bind; the port is reachable wherever the Service type makes it`);
    }
    // A host port chosen at start (-p PORT, -P) is the workload's own port on the Service.
    return { containerPort: p.instancePort, servicePort: p.hostPort || p.instancePort, ...(p.protocol === 'udp' ? { protocol: 'UDP' as const } : {}) };
  });
}

/**
 * --add-host, --dns and the networks, for a pod: hostAliases (an address isola resolves on the
 * host, host-gateway, has no meaning in a cluster and is named), dnsConfig; a user network is
 * the cluster's one pod network, where names resolve through Services.
 */
export function networkSettings(
  n: { extraHosts?: { host: string; ip: string }[]; dns?: { servers: string[]; search: string[]; options: string[] }; userNetworks: string[] },
  subject: string, warnings: Warnings,
): { hostAliases?: { ip: string; hostnames: string[] }[]; dns?: { servers: string[]; search: string[]; options: string[] } } {
  const byIp = new Map<string, string[]>();
  for (const h of n.extraHosts ?? []) {
    if (h.ip === 'host-gateway') warnings.add(subject, `--add-host ${h.host}:host-gateway not carried over: a pod has no host gateway of isola's (use the node's or a Service's address)`);
    else byIp.set(h.ip, [...(byIp.get(h.ip) ?? []), h.host]);
  }
  if (n.userNetworks.length) {
    warnings.add(subject, `network ${n.userNetworks.join(', ')}: a cluster has one pod network; reach the other workloads by their Service names (a NetworkPolicy can isolate them)`);
  }
  const dns = n.dns && (n.dns.servers.length || n.dns.search.length || n.dns.options.length) ? n.dns : undefined;
  return {
    ...(byIp.size ? { hostAliases: [...byIp].map(([ip, hostnames]) => ({ ip, hostnames })) } : {}),
    ...(dns ? { dns } : {}),
  };
}

/** The image's EXPOSE (declared on the container), HEALTHCHECK and VOLUMEs. */
export function fromImageFacts(facts: ImageFacts | undefined, ports: KubePort[], mounted: string[], subject: string, warnings: Warnings): { ports: KubePort[]; volumes: KubeVolume[]; health?: ImageFacts['health'] } {
  if (!facts) return { ports, volumes: [] };
  const declared = new Set(ports.map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`));
  const exposed: KubePort[] = [
    ...facts.exposedTcp.filter((p) => !declared.has(`${p}/TCP`)).map((p) => ({ containerPort: p })),
    ...(facts.exposedUdp ?? []).filter((p) => !declared.has(`${p}/UDP`)).map((p) => ({ containerPort: p, protocol: 'UDP' as const })),
  ];
  for (const other of facts.exposedOther) warnings.add(subject, `the image's EXPOSE ${other} not declared: isola publishes TCP and UDP only`);
  const volumes: KubeVolume[] = facts.volumes
    .filter((v) => !mounted.includes(v))
    .map((target) => ({ source: { type: 'anonymous' as const, fromImage: true }, target, readOnly: false }));
  return { ports: [...ports, ...exposed], volumes, ...(facts.health ? { health: facts.health } : {}) };
}

/**
 * The OCI runtime: the node's CRI runtime decides for containers; runsc (gVisor) is a
 * RuntimeClass a gVisor cluster provides, named `gvisor` by convention.
 */
export function runtimeClassOf(kind: Kind, runtime: string, subject: string, warnings: Warnings): string | undefined {
  if (kind !== 'container' || runtime === '' || runtime === 'runc') return undefined;
  if (runtime === 'runsc') {
    warnings.add(subject, '--runtime runsc becomes runtimeClassName: gvisor: the cluster needs gVisor installed with a RuntimeClass of that name');
    return 'gvisor';
  }
  warnings.add(subject, `--runtime ${runtime} not carried over: the node's container runtime decides`);
  return undefined;
}

export function kernelWarnings(kind: Kind, kernel: string | undefined, initrd: string | undefined, subject: string, warnings: Warnings): void {
  const given = [kernel && `--kernel ${kernel}`, initrd && `--initrd ${initrd}`].filter(Boolean).join(', ');
  if (!given) return;
  warnings.add(subject, `${given} not carried over: ${kind === 'hybrid' ? 'Kata boots its own guest kernel' : 'KubeVirt boots what the containerDisk holds'}`);
}

export function pidsWarning(pidsLimit: number | undefined, subject: string, warnings: Warnings): void {
  if (pidsLimit) warnings.add(subject, `--pids-limit ${pidsLimit} not carried over: Kubernetes limits processes per node (the kubelet's podPidsLimit), not per pod spec`);
}

/**
 * A cluster pulls images from a registry: a name without a registry host is looked up on Docker
 * Hub, which is not where an image built or imported by isola is.
 */
export function registryWarning(image: string | undefined, subject: string, warnings: Warnings): void {
  if (image === undefined) return;
  const first = image.split('/')[0] ?? '';
  const hasHost = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasHost) {
    warnings.add(subject, `image "${image}" names no registry: the cluster will look for it on Docker Hub (isola tag it as HOST/NAME:TAG, isola push it, and generate from that name)`);
  }
}

/** Capabilities as Kubernetes spells them: CAP_NET_ADMIN -> NET_ADMIN. */
export const kubeCap = (cap: string) => cap.toUpperCase().replace(/^CAP_/, '');

/** The lifecycle settings a spec or a run carries (restart, health is mapped apart, stop, labels, limits). */
export interface LifecycleLike {
  restart?: { name: string; maxRetries: number };
  stopSignal?: string;
  stopTimeout?: number;
  labels?: Record<string, string>;
  ulimits?: { name: string; soft: number; hard: number }[];
  init?: boolean;
  devices?: { hostPath: string }[];
  logMaxBytes?: number;
}

/** Kubernetes annotation keys: an optional DNS-subdomain prefix and a name of 63 characters at most. */
const ANNOTATION_KEY = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * Restart policy, stop, labels and limits for a pod: --stop-timeout is the grace period, labels
 * become annotations; what a pod has no place for is named, one warning each.
 */
export function lifecycleSettings(l: LifecycleLike, subject: string, warnings: Warnings): { stopTimeoutSec?: number; annotations?: Record<string, string> } {
  if (l.restart?.name === 'on-failure') {
    warnings.add(subject, `--restart on-failure${l.restart.maxRetries ? `:${l.restart.maxRetries}` : ''} becomes restartPolicy Always: a Deployment's pods always restart, with the kubelet's back-off and no retry limit`);
  }
  if (l.stopSignal && !/^(SIG)?TERM$/i.test(l.stopSignal)) warnings.add(subject, `--stop-signal ${l.stopSignal} not carried over: the kubelet sends the image's STOPSIGNAL (bake it into the image)`);
  if (l.ulimits?.length) warnings.add(subject, `--ulimit ${l.ulimits.map((u) => u.name).join(', ')} not carried over: a pod has no per-container rlimits (the node's container runtime sets them)`);
  if (l.init) warnings.add(subject, '--init not carried over: a pod runs the image\'s entrypoint as PID 1 (put tini in the image, or set shareProcessNamespace so the pause container reaps)');
  if (l.devices?.length) warnings.add(subject, `--device ${l.devices.map((d) => d.hostPath).join(', ')} not carried over: a cluster hands out devices through a device plugin`);
  if (l.logMaxBytes) warnings.add(subject, '--log-opt max-size not carried over: the kubelet rotates container logs (its containerLogMaxSize)');
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(l.labels ?? {})) {
    if (ANNOTATION_KEY.test(k)) annotations[k] = v;
    else warnings.add(subject, `label ${k} not carried over: not a valid Kubernetes annotation key`);
  }
  return {
    ...(l.stopTimeout !== undefined ? { stopTimeoutSec: l.stopTimeout } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

/** isola's resolved health check (milliseconds) in Docker's config form (nanoseconds), for probes. */
export function healthConfigOf(h: HealthSpec): NonNullable<ImageFacts['health']> {
  const ns = (ms: number) => ms * 1e6;
  return { Test: h.test, Interval: ns(h.intervalMs), Timeout: ns(h.timeoutMs), StartPeriod: ns(h.startPeriodMs), StartInterval: ns(h.startIntervalMs), Retries: h.retries };
}
