import type { InstanceSpec } from '../../core/types.js';
import { kubeVolumes } from './mounts.js';
import { fromImageFacts, healthConfigOf, kernelWarnings, kubeCap, lifecycleSettings, networkSettings, pidsWarning, publishedPorts, registryWarning, runtimeClassOf, userOf } from './carry.js';
import type { ImageFacts } from './image-facts.js';
import type { KubeWorkload, ServiceType } from './model.js';
import type { Warnings } from './warnings.js';

/**
 * The InstanceSpec fields this conversion knows: each is carried over, warned about, or has no
 * meaning outside the host (ids, folders, the cleanup command). A field added to InstanceSpec
 * later, and not listed here, is named in a warning rather than dropped silently.
 */
const KNOWN_FIELDS = new Set([
  'id', 'name', 'kind', 'image', 'argv', 'env', 'workdir', 'user', 'hostname', 'memoryBytes', 'cpus', 'pidsLimit',
  'readOnly', 'mounts', 'tty', 'stdinOpen', 'stdinOnce', 'network', 'moreNetworks', 'extraHosts', 'dns', 'restart', 'health', 'stopSignal', 'stopTimeout', 'labels', 'ulimits', 'init', 'devices', 'logMaxBytes', 'security', 'runtime', 'kernel', 'initrd', 'dir', 'runDir', 'cleanupCommand',
]);

export interface InstanceSource {
  spec: InstanceSpec;
  /** -p mappings (the instance record's ports). */
  ports: { hostIp: string; hostPort: number; instancePort: number }[];
  /** The image's config, when the image is still stored here. */
  facts?: ImageFacts;
}

export interface WorkloadOptions {
  replicas: number;
  containerDisk?: string;
  serviceType: ServiceType;
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function workloadFromInstance(src: InstanceSource, opts: WorkloadOptions, warnings: Warnings): KubeWorkload {
  const { spec } = src;
  const subject = `instance ${spec.name}`;
  for (const [field, value] of Object.entries(spec)) {
    if (KNOWN_FIELDS.has(field) || value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
    warnings.add(subject, `setting "${field}" (${JSON.stringify(value).slice(0, 80)}) has no Kubernetes mapping in this isola: not carried over`);
  }
  const image = spec.image.config;
  if (!src.facts) warnings.add(subject, `image ${spec.image.ref} is no longer stored here: its HEALTHCHECK, VOLUMEs and EXPOSEd ports are not read`);
  // The spec keeps the final argv; the manifest overrides the image's only when they differ.
  const imageArgv = [...(src.facts?.entrypoint ?? image.entrypoint), ...(src.facts?.cmd ?? image.cmd)];
  const imageEnv = new Set(src.facts?.env ?? image.env);
  const env = spec.env.filter((e) => !imageEnv.has(e)).map((e) => {
    const i = e.indexOf('=');
    return { name: e.slice(0, i), value: e.slice(i + 1) };
  });
  const ports = publishedPorts(src.ports, subject, warnings);
  const mounts = kubeVolumes(spec.mounts ?? []);
  const fromImage = fromImageFacts(src.facts, ports, mounts.map((m) => m.target), subject, warnings);
  const imageWorkdir = src.facts?.workingDir ?? (image.workingDir || '/');
  // isola's default hostname is the id's first 12 characters: not a choice worth carrying.
  const hostname = spec.hostname !== spec.id.slice(0, 12) ? spec.hostname : undefined;
  if (hostname && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(hostname)) {
    warnings.add(subject, `hostname "${hostname}" not carried over: a pod's hostname is a lower-case DNS label`);
  }
  pidsWarning(spec.pidsLimit, subject, warnings);
  kernelWarnings(spec.kind, spec.kernel, spec.initrd, subject, warnings);
  registryWarning(spec.kind === 'vm' ? opts.containerDisk : spec.image.ref, subject, warnings);
  const runtimeClass = runtimeClassOf(spec.kind, spec.runtime, subject, warnings);
  return {
    name: spec.name,
    kind: spec.kind,
    image: spec.image.ref,
    ...(opts.containerDisk ? { containerDisk: opts.containerDisk } : {}),
    replicas: opts.replicas,
    ...(spec.memoryBytes !== undefined ? { memoryBytes: spec.memoryBytes } : {}),
    ...(spec.cpus !== undefined ? { cpus: spec.cpus } : {}),
    ...(sameList(spec.argv, imageArgv) ? {} : { command: spec.argv }),
    env,
    ...(spec.workdir && spec.workdir !== imageWorkdir ? { workdir: spec.workdir } : {}),
    ...(hostname && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(hostname) ? { hostname } : {}),
    ports: fromImage.ports,
    serviceType: opts.serviceType,
    // The instance's own check (the image's HEALTHCHECK with --health-*), else the image's.
    ...(spec.health ? { health: healthConfigOf(spec.health) } : fromImage.health ? { health: fromImage.health } : {}),
    ...lifecycleSettings(spec, subject, warnings),
    volumes: [...mounts, ...fromImage.volumes],
    security: {
      privileged: spec.security.privileged,
      capAdd: spec.security.capAdd.map(kubeCap),
      capDrop: spec.security.capDrop.map(kubeCap),
      seccomp: spec.security.seccomp,
      noNewPrivileges: spec.security.noNewPrivileges,
      readOnlyRoot: spec.readOnly,
      ...userOf(spec.user, src.facts?.user ?? image.user, subject, warnings),
    },
    ...(spec.tty || spec.stdinOpen ? { terminal: { tty: !!spec.tty, stdin: !!spec.stdinOpen, stdinOnce: !!spec.stdinOnce } } : {}),
    ...networkSettings({
      ...(spec.extraHosts ? { extraHosts: spec.extraHosts } : {}), ...(spec.dns ? { dns: spec.dns } : {}),
      userNetworks: [spec.network, ...(spec.moreNetworks ?? [])].flatMap((n) => (n.mode === 'bridge' && n.networkName && n.networkName !== 'bridge' ? [n.networkName] : [])),
    }, subject, warnings),
    isolatedNetwork: spec.network.mode === 'none',
    ...(runtimeClass ? { runtimeClass } : {}),
    origin: subject,
  };
}
