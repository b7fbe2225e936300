import path from 'node:path';
import { invalid } from '../core/errors.js';
import type { InstanceSpec, MountSpec, NetworkSpec, ResolvedImage } from '../core/types.js';
import type { RunRequest } from './request.js';
import { allocateIp, interfaceOn, type NetworkTarget } from './networks.js';
import type { Paths } from '../core/paths.js';
import { normalizeCap } from '../core/caps.js';
import { diskImageFacts } from '../image/disk-image.js';
import { resolveHealth } from './health.js';

/** The lifecycle part of a spec: restart policy, health check, stop signal, labels, limits (docs/LIFECYCLE.md). */
export function lifecycleSpec(image: ResolvedImage, req: RunRequest): Partial<InstanceSpec> {
  const health = resolveHealth(image.config.healthcheck, req.health ?? {});
  const labels = { ...(image.config.labels ?? {}), ...(req.labels ?? {}) };
  const stopSignal = req.stopSignal ?? image.config.stopSignal;
  return {
    ...(req.restart && req.restart.name !== 'no' ? { restart: req.restart } : {}),
    ...(health ? { health } : {}),
    ...(stopSignal ? { stopSignal } : {}),
    ...(req.stopTimeout !== undefined ? { stopTimeout: req.stopTimeout } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(req.ulimits?.length ? { ulimits: req.ulimits } : {}),
    ...(req.init ? { init: true } : {}),
    ...(req.devices?.length ? { devices: req.devices } : {}),
    ...(req.logMaxBytes ? { logMaxBytes: req.logMaxBytes } : {}),
  };
}

/** Image env overlaid with -e (KEY=VALUE, or KEY alone to pass the caller's value through). */
export function mergeEnv(imageEnv: string[], userEnv: string[], callerEnv: Readonly<Record<string, string | undefined>>): string[] {
  const out = new Map<string, string>();
  for (const e of imageEnv) out.set(e.split('=')[0] ?? e, e);
  for (const e of userEnv) {
    const key = e.split('=')[0] ?? '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw invalid(`invalid environment variable "${e}"`, 'use -e KEY=VALUE');
    if (e.includes('=')) out.set(key, e);
    else if (callerEnv[key] !== undefined) out.set(key, `${key}=${callerEnv[key]}`);
  }
  return [...out.values()];
}

/** Docker's rule: ENTRYPOINT + (command given ? command : CMD). */
export function resolveArgv(image: ResolvedImage, req: RunRequest): string[] {
  const entry = req.entrypoint !== undefined ? (req.entrypoint ? [req.entrypoint] : []) : image.config.entrypoint;
  const cmd = req.command.length > 0 ? req.command : req.entrypoint !== undefined ? [] : image.config.cmd;
  const argv = [...entry, ...cmd];
  // A whole-disk image runs the command on its disk unless one is given.
  if (argv.length === 0 && !diskImageFacts(image.config)) throw invalid(`image ${image.ref} has no command to run`, 'give one after the image name, for example: isola run IMAGE sh');
  return argv;
}

/**
 * The instance's spec from the request. `target`: the network it joins (null for --network
 * none); `usedIps` gives the addresses taken on a network, read inside the database's write lock.
 */
export function buildSpec(p: Paths, callerEnv: Readonly<Record<string, string | undefined>>, id: string, name: string, image: ResolvedImage, req: RunRequest,
  target: NetworkTarget | null, usedIps: (networkId: string) => string[], cleanup: string[], mounts: MountSpec[] = []): InstanceSpec {
  const network: NetworkSpec = target === null ? { mode: 'none' } : interfaceOn(target, id, allocateIp(target, usedIps(target.id)), 'eth0');
  return {
    id,
    name,
    kind: req.kind,
    image,
    argv: resolveArgv(image, req),
    env: mergeEnv(image.config.env, req.env, callerEnv),
    workdir: req.workdir ?? image.config.workingDir ?? '/',
    user: req.user ?? image.config.user ?? '',
    hostname: req.hostname ?? id.slice(0, 12),
    ...(req.memoryBytes ? { memoryBytes: req.memoryBytes } : {}),
    ...(req.cpus ? { cpus: req.cpus } : {}),
    ...(req.pidsLimit ? { pidsLimit: req.pidsLimit } : {}),
    readOnly: req.readOnly,
    ...(req.autoRemove ? { disposable: true } : {}),
    network,
    ...(req.extraHosts?.length ? { extraHosts: req.extraHosts } : {}),
    ...(req.aliases?.length ? { aliases: req.aliases } : {}),
    ...(req.dns && (req.dns.servers.length || req.dns.search.length || req.dns.options.length) ? { dns: req.dns } : {}),
    security: {
      privileged: req.privileged,
      capAdd: req.capAdd.map(normalizeCap),
      capDrop: req.capDrop.map(normalizeCap),
      seccomp: req.seccomp,
      noNewPrivileges: req.noNewPrivileges,
    },
    runtime: req.runtime ?? '',
    ...(req.kernel ? { kernel: path.resolve(req.kernel) } : {}),
    ...(req.initrd ? { initrd: path.resolve(req.initrd) } : {}),
    dir: path.join(p.instances, id),
    runDir: path.join(p.run, id.slice(0, 12)),
    cleanupCommand: cleanup,
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(req.tty ? { tty: true } : {}),
    // A foreground -i is Docker's StdinOnce: the attached client's end is the workload's end of input.
    ...(req.interactive ? { stdinOpen: true, stdinOnce: req.stdinOnce ?? !req.detach } : {}),
    ...lifecycleSpec(image, req),
  };
}
