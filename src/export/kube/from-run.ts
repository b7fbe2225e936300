import { invalid } from '../../core/errors.js';
import type { HealthSpec, Kind } from '../../core/types.js';
import { fromImageFacts, healthConfigOf, kernelWarnings, kubeCap, lifecycleSettings, networkSettings, pidsWarning, publishedPorts, registryWarning, runtimeClassOf, userOf, type LifecycleLike } from './carry.js';
import type { WorkloadOptions } from './from-instance.js';
import type { ImageFacts } from './image-facts.js';
import type { KubeWorkload } from './model.js';
import { kubeVolumes, type MountLike } from './mounts.js';
import type { Warnings } from './warnings.js';

/**
 * `isola kube generate --image IMAGE [run flags]`: the same flags as `isola run`, parsed by the
 * CLI into this shape (engine/request.ts's RunRequest fits it).
 */
export interface ImageRunSettings extends LifecycleLike {
  image: string;
  kind: Kind;
  name?: string;
  command: string[];
  entrypoint?: string;
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number;
  readOnly: boolean;
  /** none, bridge (the default network) or a user network's name. */
  network: string;
  publishAll?: boolean;
  extraHosts?: { host: string; ip: string }[];
  dns?: { servers: string[]; search: string[]; options: string[] };
  publish: { hostIp: string; hostPort: number; instancePort: number }[];
  runtime?: string;
  kernel?: string;
  initrd?: string;
  privileged: boolean;
  capAdd: string[];
  mounts?: readonly MountLike[];
  /** The health check in force: the image's HEALTHCHECK with --health-* (resolved by the caller); null: --no-healthcheck. */
  resolvedHealth?: HealthSpec | null;
  tty?: boolean;
  interactive?: boolean;
  capDrop: string[];
  seccomp: string;
  noNewPrivileges: boolean;
  /** What messages call it (a Compose file's "service db"); default "image IMAGE". */
  origin?: string;
}

/** The name a workload gets from its image when --name is not given: nginx from registry/library/nginx:1. */
export function nameFromImage(image: string): string {
  const last = image.split('@')[0]?.split('/').pop() ?? image;
  return last.replace(/:[^:]*$/, '');
}

/** -e KEY=VALUE as given; -e KEY takes the caller's value, as isola run does, and is named when unset. */
function resolveEnv(list: string[], callerEnv: Readonly<Record<string, string | undefined>>, subject: string, warnings: Warnings) {
  const out = new Map<string, string>();
  for (const e of list) {
    const i = e.indexOf('=');
    const key = i < 0 ? e : e.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw invalid(`invalid environment variable "${e}"`, 'use -e KEY=VALUE');
    if (i >= 0) out.set(key, e.slice(i + 1));
    else if (callerEnv[key] !== undefined) out.set(key, callerEnv[key] as string);
    else warnings.add(subject, `-e ${key}: not set here, so not written`);
  }
  return [...out].map(([name, value]) => ({ name, value }));
}

export function workloadFromRun(
  req: ImageRunSettings, facts: ImageFacts | undefined, opts: WorkloadOptions,
  callerEnv: Readonly<Record<string, string | undefined>>, warnings: Warnings,
): KubeWorkload {
  const subject = req.origin ?? `image ${req.image}`;
  if (!facts) warnings.add(subject, 'not stored here: its HEALTHCHECK, VOLUMEs and EXPOSEd ports are not read (isola pull it first to carry them over)');
  // Docker's rule, in Kubernetes' words: --entrypoint replaces ENTRYPOINT and drops CMD (a
  // container `command` without `args` does both); a command replaces CMD (`args`).
  let command: string[] | undefined;
  let args: string[] | undefined;
  if (req.entrypoint !== undefined && req.entrypoint !== '') {
    command = [req.entrypoint];
    if (req.command.length) args = req.command;
  } else if (req.entrypoint === '') {
    if (req.command.length === 0) throw invalid('--entrypoint "" with no command leaves nothing to run', 'give a command after the image');
    command = req.command;
  } else if (req.command.length) args = req.command;
  if (req.publish.length && req.network === 'none') throw invalid('--publish needs a network, but --network none was given', 'drop -p or use --network bridge');
  const ports = publishedPorts(req.publish, subject, warnings);
  const volumes = kubeVolumes(req.mounts ?? []);
  const mounted = volumes.map((v) => v.target);
  const fromImage = fromImageFacts(facts, ports, mounted, subject, warnings);
  // -P: every EXPOSEd port on the Service too, at its own number.
  if (req.publishAll) fromImage.ports = fromImage.ports.map((p) => ({ ...p, servicePort: p.servicePort ?? p.containerPort }));
  pidsWarning(req.pidsLimit, subject, warnings);
  kernelWarnings(req.kind, req.kernel, req.initrd, subject, warnings);
  registryWarning(req.kind === 'vm' ? opts.containerDisk : req.image, subject, warnings);
  const runtimeClass = runtimeClassOf(req.kind, req.runtime ?? '', subject, warnings);
  if (req.hostname && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(req.hostname)) {
    throw invalid(`--hostname "${req.hostname}" is not a valid pod hostname`, 'use a lower-case DNS label: letters, digits and -');
  }
  return {
    name: req.name ?? nameFromImage(req.image),
    kind: req.kind,
    image: req.image,
    ...(opts.containerDisk ? { containerDisk: opts.containerDisk } : {}),
    replicas: opts.replicas,
    ...(req.memoryBytes !== undefined ? { memoryBytes: req.memoryBytes } : {}),
    ...(req.cpus !== undefined ? { cpus: req.cpus } : {}),
    ...(command ? { command } : {}),
    ...(args ? { args } : {}),
    env: resolveEnv(req.env, callerEnv, subject, warnings),
    ...(req.workdir ? { workdir: req.workdir } : {}),
    ...(req.hostname ? { hostname: req.hostname } : {}),
    ports: fromImage.ports,
    serviceType: opts.serviceType,
    ...(req.resolvedHealth ? { health: healthConfigOf(req.resolvedHealth) } : req.resolvedHealth === undefined && fromImage.health ? { health: fromImage.health } : {}),
    ...lifecycleSettings(req, subject, warnings),
    volumes: [...volumes, ...fromImage.volumes],
    security: {
      privileged: req.privileged,
      capAdd: req.capAdd.map(kubeCap),
      capDrop: req.capDrop.map(kubeCap),
      seccomp: req.seccomp,
      noNewPrivileges: req.noNewPrivileges,
      readOnlyRoot: req.readOnly,
      ...userOf(req.user ?? '', facts?.user ?? '', subject, warnings),
    },
    ...(req.tty || req.interactive ? { terminal: { tty: !!req.tty, stdin: !!req.interactive, stdinOnce: false } } : {}),
    ...networkSettings({ ...req, userNetworks: req.network === 'none' || req.network === 'bridge' ? [] : [req.network] }, subject, warnings),
    isolatedNetwork: req.network === 'none',
    ...(runtimeClass ? { runtimeClass } : {}),
    origin: subject,
  };
}
