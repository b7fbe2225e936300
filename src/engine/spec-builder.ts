import path from 'node:path';
import { invalid } from '../core/errors.js';
import type { InstanceSpec, NetworkSpec, ResolvedImage } from '../core/types.js';
import type { RunRequest } from './request.js';
import { BRIDGE, GATEWAY, PREFIX, macFor } from '../net/names.js';
import { nextFreeIp } from '../net/ipam.js';
import type { Paths } from '../core/paths.js';
import { normalizeCap } from '../core/caps.js';
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
  if (argv.length === 0) throw invalid(`image ${image.ref} has no command to run`, 'give one after the image name, for example: isola run IMAGE sh');
  return argv;
}

export function buildSpec(p: Paths, callerEnv: Readonly<Record<string, string | undefined>>, id: string, name: string, image: ResolvedImage, req: RunRequest, usedIps: string[], cleanup: string[]): InstanceSpec {
  const network: NetworkSpec = req.network === 'none'
    ? { mode: 'none' }
    : { mode: 'bridge', bridge: BRIDGE, ip: nextFreeIp(usedIps), prefixLength: PREFIX, gateway: GATEWAY, mac: macFor(id) };
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
    network,
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
    ...lifecycleSpec(image, req),
  };
}
