import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { KubeSecurity, KubeWorkload, Manifest } from './model.js';
import { probeAction, probesOf } from './probe.js';
import { cpuQuantity, memoryQuantity } from './quantity.js';
import { podVolumes } from './volumes.js';
import type { Warnings } from './warnings.js';

/**
 * isola's hardening switches as a container securityContext. isola's default seccomp profile is
 * containers-common's, which Kubernetes' RuntimeDefault (the CRI runtime's own, the same family)
 * stands for; a profile file must be installed on every node (Localhost, with a warning).
 */
export function securityContextOf(s: KubeSecurity, subject: string, warnings: Warnings): ISecurityContext {
  const sc: ISecurityContext = {};
  if (s.privileged) sc.privileged = true;
  // Kubernetes refuses allowPrivilegeEscalation: false together with privileged: true.
  else sc.allowPrivilegeEscalation = !s.noNewPrivileges;
  if (s.capAdd.length || s.capDrop.length) {
    sc.capabilities = { ...(s.capAdd.length ? { add: s.capAdd } : {}), ...(s.capDrop.length ? { drop: s.capDrop } : {}) };
  }
  if (s.readOnlyRoot) sc.readOnlyRootFilesystem = true;
  if (s.runAsUser !== undefined) sc.runAsUser = s.runAsUser;
  if (s.runAsGroup !== undefined) sc.runAsGroup = s.runAsGroup;
  if (!s.privileged) {
    if (s.seccomp === 'default') sc.seccompProfile = { type: 'RuntimeDefault' };
    else if (s.seccomp === 'unconfined') sc.seccompProfile = { type: 'Unconfined' };
    else {
      const file = s.seccomp.split('/').pop() ?? s.seccomp;
      sc.seccompProfile = { type: 'Localhost', localhostProfile: file };
      warnings.add(subject, `seccomp profile ${s.seccomp} becomes Localhost profile "${file}": copy it to the kubelet's seccomp folder (/var/lib/kubelet/seccomp/${file}) on every node`);
    }
  }
  return sc;
}

export interface PodParts {
  spec: IPodSpec;
  claims: Manifest[];
}

/** The pod of a container or hybrid workload: one container, as isola would run it. */
export function podSpecOf(w: KubeWorkload, name: string, warnings: Warnings): PodParts {
  const vols = podVolumes(w, name, warnings);
  const container: IContainer = { name, image: w.image };
  if (w.command) container.command = w.command;
  if (w.args) container.args = w.args;
  if (w.workdir) container.workingDir = w.workdir;
  if (w.env.length) container.env = w.env.map((e) => ({ name: e.name, value: e.value }));
  if (w.terminal?.tty) container.tty = true;
  if (w.terminal?.stdin) Object.assign(container, { stdin: true, ...(w.terminal.stdinOnce ? { stdinOnce: true } : {}) });
  if (w.ports.length) {
    const seen = new Set<string>();
    container.ports = w.ports.filter((p) => !seen.has(`${p.containerPort}/${p.protocol ?? 'TCP'}`) && seen.add(`${p.containerPort}/${p.protocol ?? 'TCP'}`))
      .map((p) => ({ containerPort: p.containerPort, protocol: p.protocol ?? 'TCP' }));
  }
  if (w.memoryBytes !== undefined || w.cpus !== undefined) {
    // isola's -m and --cpus are hard limits; requests equal to them make the pod Guaranteed and
    // the scheduler count what the limit allows.
    const q: Record<string, string> = {};
    if (w.memoryBytes !== undefined) q.memory = memoryQuantity(w.memoryBytes);
    if (w.cpus !== undefined) q.cpu = cpuQuantity(w.cpus);
    container.resources = { limits: { ...q }, requests: { ...q } };
  }
  if (w.health) {
    const action = probeAction(w.health.Test);
    if (action) Object.assign(container, probesOf(w.health, action));
  }
  container.securityContext = securityContextOf(w.security, w.origin, warnings);
  if (w.security.readOnlyRoot) {
    // isola's --read-only keeps /tmp writable (a tmpfs); an in-memory emptyDir does the same.
    vols.volumes.push({ name: 'tmp', emptyDir: { medium: 'Memory' } });
    vols.mounts.push({ name: 'tmp', mountPath: '/tmp' });
  }
  if (vols.mounts.length) container.volumeMounts = vols.mounts;
  const spec: IPodSpec = {
    containers: [container],
    // An isola instance holds no credentials of the host; a pod needs none of the cluster's.
    automountServiceAccountToken: false,
  };
  if (w.stopTimeoutSec !== undefined) spec.terminationGracePeriodSeconds = w.stopTimeoutSec;
  if (w.hostAliases) spec.hostAliases = w.hostAliases;
  if (w.dns) {
    // Docker's --dns replaces the resolver: dnsPolicy None. Search and options alone add to the cluster's.
    if (w.dns.servers.length) spec.dnsPolicy = 'None';
    spec.dnsConfig = {
      ...(w.dns.servers.length ? { nameservers: w.dns.servers } : {}),
      ...(w.dns.search.length ? { searches: w.dns.search.filter((d) => d !== '.') } : {}),
      ...(w.dns.options.length ? { options: w.dns.options.map((o) => { const [name = '', value] = o.split(':'); return value === undefined ? { name } : { name, value }; }) } : {}),
    };
  }
  if (vols.volumes.length) spec.volumes = vols.volumes;
  if (w.hostname) spec.hostname = w.hostname;
  return { spec, claims: vols.claims };
}
