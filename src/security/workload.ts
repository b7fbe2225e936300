import { ALL_CAPS } from '../core/caps.js';
import type { MountEntry, ProcessFacts } from './facts.js';
import type { SeccompRules } from './bundle.js';

/** Namespaces that isolate something (the *_for_children links repeat pid and time). */
export const NS_TYPES = ['mnt', 'pid', 'net', 'ipc', 'uts', 'cgroup', 'user', 'time'] as const;

/** Host paths that give a workload control over its host when mounted into it (CIS 5.5, 5.31). */
export const SENSITIVE_PATHS = [
  '/', '/boot', '/dev', '/etc', '/lib', '/lib/modules', '/proc', '/sys', '/usr', '/var/lib/isola', '/var/lib/docker',
  '/var/lib/containerd', '/run/containerd', '/var/run/docker.sock', '/run/docker.sock', '/run/podman/podman.sock',
];

/** What was measured of the workload's process: its sandbox, as its own kernel sees it. */
export interface WorkloadFacts {
  command: string;
  uid: number;
  /** Namespaces of its own, compared with pid 1 of the kernel that runs it. */
  namespaces: { own: string[]; sharedWithKernelInit: string[]; comparedWith: string };
  capabilities: { effective: string[]; count: number; of: number; hex: string };
  seccomp: { mode: 'disabled' | 'strict' | 'filter' | 'unknown'; filters: number | null; rules: SeccompRules | null };
  lsm: { active: string[]; label: string | null; note: string };
  userNamespace: { remapped: boolean; uidMap: string[] };
  readOnlyRoot: boolean;
  noNewPrivileges: boolean | null;
  limits: {
    memoryBytes: number | null;
    cpuQuota: string | null;
    pids: number | null;
    /** Where the kernel is separate: the guest's RAM and CPUs bound the workload too. */
    kernelMemoryBytes: number | null;
    kernelCpus: number | null;
  };
  privileged: boolean;
  sensitiveMounts: string[];
}


const seccompName = (m: number | null): WorkloadFacts['seccomp']['mode'] =>
  m === 0 ? 'disabled' : m === 1 ? 'strict' : m === 2 ? 'filter' : 'unknown';

export function seccompText(m: number | null): string {
  return seccompName(m);
}

/** Bind mounts of sensitive host paths or sockets. Only meaningful where the kernel is the host's. */
export function sensitiveMounts(mounts: MountEntry[]): string[] {
  const virtual = new Set(['proc', 'sysfs', 'tmpfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'devtmpfs', 'overlay', 'securityfs', 'debugfs', 'bpf', 'tracefs']);
  const out: string[] = [];
  for (const m of mounts) {
    // A virtiofs share's root is the shared folder's own root, not a host path: which host
    // folder it is, isola knows from the spec (sharedSensitive), not the guest.
    if (virtual.has(m.fsType) || m.fsType === 'virtiofs') continue;
    const src = m.root;
    if (SENSITIVE_PATHS.includes(src) || /\.sock$/.test(src) || /\.sock$/.test(m.mountPoint)) {
      if (m.mountPoint === '/' && src === '/') continue; // the workload's own root disk (a VM's), not a host bind
      out.push(`${src} on ${m.mountPoint} (${m.fsType})`);
    }
  }
  return out;
}

/** Host folders shared with a guest (-v on a VM or hybrid) that are sensitive, from the instance's spec. */
export function sharedSensitive(mounts: readonly { type: string; source?: string; target: string }[]): string[] {
  return mounts.flatMap((m) => (m.type !== 'tmpfs' && m.source && (SENSITIVE_PATHS.includes(m.source) || /\.sock$/.test(m.source)) ? [`${m.source} on ${m.target} (shared folder)`] : []));
}

/** Turns the facts of the workload's process into the workload part of the profile. */
export function workloadFacts(f: ProcessFacts, rules: SeccompRules | null, comparedWith: string): WorkloadFacts {
  const own: string[] = [];
  const shared: string[] = [];
  for (const t of NS_TYPES) {
    const mine = f.namespaces[t];
    const init = f.rootNamespaces[t];
    if (!mine || !init) continue;
    (mine === init ? shared : own).push(t);
  }
  const root = [...f.mounts].reverse().find((m) => m.mountPoint === '/');
  const remapped = !f.uidMap.some((l) => l.startsWith('0 0 '));
  // Privileged: every capability a process of that kernel can hold, and no seccomp filter.
  const all = f.capEff.length > 0 && (f.kernelCaps.length ? f.kernelCaps : ALL_CAPS).every((c) => f.capEff.includes(c));
  return {
    command: f.command,
    uid: f.uid,
    namespaces: { own, sharedWithKernelInit: shared, comparedWith },
    capabilities: { effective: f.capEff, count: f.capEff.length, of: ALL_CAPS.length, hex: f.capEffHex },
    seccomp: { mode: seccompName(f.seccompMode), filters: f.seccompFilters, rules: f.seccompMode === 2 ? rules : null },
    lsm: lsmOf(f),
    userNamespace: { remapped, uidMap: f.uidMap },
    readOnlyRoot: root ? root.options.includes('ro') : false,
    noNewPrivileges: f.noNewPrivs,
    limits: { ...f.limits, kernelMemoryBytes: f.memTotalBytes, kernelCpus: f.cpus },
    privileged: all && f.seccompMode === 0,
    sensitiveMounts: sensitiveMounts(f.mounts),
  };
}

/** AppArmor writes "unconfined" (or "name (mode)"), SELinux a context; with no LSM the read fails. */
function lsmOf(f: ProcessFacts): WorkloadFacts['lsm'] {
  const label = f.lsmLabel;
  const active = f.lsms.join(',');
  if (!label) {
    return { active: f.lsms, label: null, note: `no LSM profile: ${active ? `active LSMs ${active} give this process no label` : 'no AppArmor or SELinux answers on this kernel'} (attr/current is empty or refused)` };
  }
  if (label === 'unconfined' || /\(unconfined\)$/.test(label)) {
    return { active: f.lsms, label: null, note: `an LSM answers (${active || 'attr/current'}) but this process is unconfined` };
  }
  return { active: f.lsms, label, note: `confined by ${active || 'an LSM'} as ${label}` };
}
