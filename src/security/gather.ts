import type { InstanceSpec, StoredData } from '../core/types.js';
import type { AnyDriver } from '../drivers/driver.js';
import { IsolaError } from '../core/errors.js';
import { run } from '../util/exec.js';
import { collectOutput } from '../util/collect.js';
import { FACT_SCRIPT } from './script.js';
import { parseFacts, type ProcessFacts } from './facts.js';
import { readSeccompRules } from './bundle.js';
import type { SecurityProfile } from './profile.js';
import { NS_TYPES, seccompText, sharedSensitive, workloadFacts } from './workload.js';
import { checklist } from './checklist.js';
import { isolationLevel, type VmmConfinement } from './level.js';

/** Runs the fact script on the host, about a host process. */
export async function hostFacts(pid: number | 'self'): Promise<ProcessFacts> {
  const r = await run('/bin/sh', ['-c', FACT_SCRIPT, 'sh', String(pid)]);
  return parseFacts(r.stdout);
}

/** Runs argv inside the instance through the driver; resolves with stdout, or null when it cannot. */
async function execText(driver: AnyDriver, spec: InstanceSpec, data: StoredData, argv: string[]): Promise<string | null> {
  try {
    const r = await collectOutput((io) => driver.exec(spec, data, argv, { ...io, stdin: null }));
    return r.code === 0 ? r.stdout : null;
  } catch {
    return null;
  }
}

/**
 * Measures a running instance. Nothing is assumed from its kind:
 * 1. the kernel: `uname -r` and the boot id read inside the instance (through the driver's
 *    exec) against the host's; one boot id means one kernel;
 * 2. the workload: on a shared kernel, read from the host's /proc/PID (PID being the workload
 *    the driver reports); on a separate kernel, read on that kernel, beside the workload when
 *    the driver can (runOnWorkloadKernel), else from inside through exec;
 * 3. the host process (the workload itself, or the VMM) from the host's /proc.
 */
export async function measureSecurity(driver: AnyDriver, rec: { id: string; name: string; spec: InstanceSpec; data: StoredData }): Promise<SecurityProfile> {
  const { spec, data } = rec;
  const seen = await driver.observe(spec, data);
  if (seen.state !== 'running') throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is not running`, 'the security profile is measured on a running instance; start it first');
  const host = await hostFacts(seen.pid);
  const inside = await execText(driver, spec, data, ['sh', '-c', 'uname -r; cat /proc/sys/kernel/random/boot_id']);
  const [instKernel, instBoot] = inside ? inside.trim().split('\n') : [];
  const shared = instBoot ? instBoot.trim() === host.bootId : null;
  const evidence = instBoot
    ? shared
      ? `boot id inside (${instBoot.slice(0, 8)}...) is the host's: one kernel`
      : `boot id inside (${instBoot.slice(0, 8)}...) differs from the host's (${host.bootId.slice(0, 8)}...): another kernel`
    : 'could not exec uname and cat inside the instance; judged from the host process alone';

  let facts: ProcessFacts;
  let via: string;
  let comparedWith: string;
  const hostProcessIsolated = host.namespaces.pid !== host.rootNamespaces.pid;
  if (shared === true || (shared === null && hostProcessIsolated)) {
    facts = host;
    via = `host /proc/${seen.pid} (the workload on the host kernel)`;
    comparedWith = `the host (${facts.rootNamespacesOf === 'pid 1' ? 'pid 1' : 'isola\'s own namespaces, pid 1 being unreadable'})`;
  } else if (driver.runOnWorkloadKernel) {
    facts = parseFacts(await driver.runOnWorkloadKernel(spec, data, FACT_SCRIPT));
    via = 'the guest\'s /proc, beside the workload (through the VM agent)';
    comparedWith = `the guest (${facts.rootNamespacesOf})`;
  } else {
    const text = await execText(driver, spec, data, ['sh', '-c', FACT_SCRIPT, 'sh', 'self']);
    if (!text) throw new IsolaError('UNAVAILABLE', `cannot measure ${rec.name}: exec of sh inside the instance failed`, 'the image needs a POSIX shell (sh) for the security profile of a VM');
    facts = parseFacts(text);
    via = 'exec inside the instance (its own /proc/self)';
    comparedWith = `the guest (${facts.rootNamespacesOf})`;
  }
  const rules = readSeccompRules(spec.dir);
  const w = workloadFacts(facts, rules, comparedWith);
  // On a separate kernel the guest cannot tell which host folder a share is; the spec can.
  if (shared === false) w.sensitiveMounts.push(...sharedSensitive(spec.mounts ?? []));
  const sharedFolders = shared === false ? (spec.mounts ?? []).filter((m) => m.type !== 'tmpfs').length : 0;
  const kernelName = shared === false ? (instKernel ?? facts.kernel) : host.kernel;
  const checks = checklist({ w, kernelShared: shared, kernel: shared === false ? kernelName : null, sharedFolders });
  const hostOwnNs = NS_TYPES.filter((t) => host.namespaces[t] && host.namespaces[t] !== host.rootNamespaces[t]);
  const hypervisor = host.command || 'the VMM';
  const vmm = shared === false ? vmmConfinement(host, hostOwnNs) : null;
  return {
    instance: { id: rec.id, name: rec.name, kind: spec.kind },
    measuredAt: new Date().toISOString(),
    measuredVia: via,
    kernel: { shared, host: host.kernel, instance: instKernel?.trim() ?? (shared ? host.kernel : null), evidence },
    hostProcess: {
      pid: seen.pid,
      command: host.command,
      uid: host.uid,
      capabilities: host.capEff.length,
      seccomp: seccompText(host.seccompMode),
      ownNamespaces: hostOwnNs,
      vmm,
    },
    workload: w,
    checklist: checks,
    level: isolationLevel(w, shared, checks, hypervisor, vmm),
  };
}

/**
 * How confined the VMM is, measured: a jailed QEMU runs as an unprivileged uid with no
 * capabilities, a seccomp filter, no-new-privileges, and its own mount and network namespaces.
 */
export function vmmConfinement(host: ProcessFacts, ownNamespaces: string[]): VmmConfinement {
  const missing: string[] = [];
  if (host.uid === 0) missing.push('runs as root');
  if (host.capEff.length > 0) missing.push(`${host.capEff.length} capabilities`);
  if (host.seccompMode !== 2) missing.push('no seccomp filter');
  if (host.noNewPrivs !== true) missing.push('may gain privileges');
  for (const ns of ['mnt', 'net']) if (!ownNamespaces.includes(ns)) missing.push(`the host's ${ns} namespace`);
  const summary = missing.length === 0
    ? `uid ${host.uid}, no capabilities, seccomp filter, no-new-privileges, own ${ownNamespaces.join(', ')} namespaces`
    : missing.join(', ');
  return { confined: missing.length === 0, summary };
}
