import { DEFAULT_CAPS } from '../core/caps.js';
import type { WorkloadFacts } from './workload.js';

export type CheckStatus = 'pass' | 'fail' | 'n/a';

export interface CheckItem {
  id: string;
  /** The CIS Docker Benchmark recommendation (container runtime section) it follows. */
  cis: string;
  title: string;
  status: CheckStatus;
  reason: string;
}

/** Namespaces whose sharing with the host CIS flags (5.9 net, 5.15 pid, 5.16 ipc, 5.20 uts, 5.30 user is daemon-wide). */
const HOST_NS = ['mnt', 'pid', 'net', 'ipc', 'uts'];

/** Capabilities that reach past the workload's own processes when granted (Docker leaves all of them out). */
const BROAD_CAPS = ['CAP_SYS_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PTRACE', 'CAP_NET_ADMIN', 'CAP_DAC_READ_SEARCH', 'CAP_BPF', 'CAP_SYS_BOOT', 'CAP_SYS_TIME', 'CAP_MAC_ADMIN', 'CAP_MAC_OVERRIDE', 'CAP_PERFMON'];

export interface CheckInput {
  w: WorkloadFacts;
  /** Whether the workload's kernel is the host's (null: could not tell). */
  kernelShared: boolean | null;
  kernel: string | null;
  /** Host folders shared with the guest (virtiofs): a separate kernel then sees those host files. */
  sharedFolders?: number;
}

const mib = (b: number) => `${Math.round(b / 1048576)} MiB`;

/**
 * A checklist in the spirit of the CIS Docker Benchmark's container runtime section, judged on
 * measured facts. Where no container runtime stands between the workload and its kernel (a
 * plain VM), the runtime items do not apply: the hypervisor is the boundary, and capabilities
 * or seccomp inside the guest would only restrict the guest.
 */
export function checklist({ w, kernelShared, kernel, sharedFolders = 0 }: CheckInput): CheckItem[] {
  const contained = w.namespaces.own.length > 0;
  const separate = kernelShared === false;
  const noRuntime = (): string => `no container runtime between the workload and its own kernel (${kernel ?? 'guest'}): the hypervisor is the boundary`;
  const items: CheckItem[] = [];
  const add = (id: string, cis: string, title: string, status: CheckStatus, reason: string) => items.push({ id, cis, title, status, reason });

  const extra = w.capabilities.effective.filter((c) => !DEFAULT_CAPS.includes(c));
  const broad = w.capabilities.effective.filter((c) => BROAD_CAPS.includes(c));
  if (!contained) add('capabilities', '5.3', 'Linux capabilities are restricted', 'n/a', `${noRuntime()}; ${w.capabilities.count} of ${w.capabilities.of} capabilities reach only the guest`);
  else if (extra.length === 0) add('capabilities', '5.3', 'Linux capabilities are restricted', 'pass', `${w.capabilities.count} of ${w.capabilities.of} effective, all within the default set`);
  else add('capabilities', '5.3', 'Linux capabilities are restricted', 'fail', `${w.capabilities.count} of ${w.capabilities.of} effective, beyond the default set: ${(broad.length ? broad : extra).slice(0, 6).map((c) => c.replace('CAP_', '')).join(', ')}${extra.length > 6 ? ', ...' : ''}`);

  if (!contained) add('privileged', '5.4', 'Not privileged', 'n/a', `${noRuntime()}; the workload is root of its own guest kernel`);
  else add('privileged', '5.4', 'Not privileged', w.privileged ? 'fail' : 'pass', w.privileged ? 'every capability and no seccomp filter: privileged' : 'capabilities bounded and/or a seccomp filter in place');

  const sharedNs = w.namespaces.sharedWithKernelInit.filter((n) => HOST_NS.includes(n));
  if (separate) {
    add('host-namespaces', '5.9/5.15/5.16/5.20', 'Host namespaces not shared', 'pass',
      `its kernel is not the host's, so no host namespace can be shared${contained ? `; in the guest it has its own ${w.namespaces.own.join(', ')}${sharedNs.length ? ` and shares the guest's ${sharedNs.join(', ')}` : ''}` : ''}`);
  } else if (sharedNs.length) add('host-namespaces', '5.9/5.15/5.16/5.20', 'Host namespaces not shared', 'fail', `shares the host's ${sharedNs.join(', ')} namespace${sharedNs.length > 1 ? 's' : ''}`);
  else add('host-namespaces', '5.9/5.15/5.16/5.20', 'Host namespaces not shared', 'pass', `own ${w.namespaces.own.join(', ')} namespaces`);

  const l = w.limits;
  if (l.memoryBytes !== null) add('memory-limit', '5.10', 'Memory usage is limited', 'pass', `cgroup memory limit ${mib(l.memoryBytes)}`);
  else if (separate && l.kernelMemoryBytes) add('memory-limit', '5.10', 'Memory usage is limited', 'pass', `no cgroup limit, but bounded by the guest's ${mib(l.kernelMemoryBytes)} of RAM`);
  else add('memory-limit', '5.10', 'Memory usage is limited', 'fail', 'no cgroup memory limit: it can use all of the host\'s memory (set -m)');

  if (l.cpuQuota !== null) add('cpu-limit', '5.11', 'CPU usage is limited', 'pass', `cgroup CPU quota ${l.cpuQuota} µs`);
  else if (separate && l.kernelCpus) add('cpu-limit', '5.11', 'CPU usage is limited', 'pass', `no cgroup quota, but bounded by the guest's ${l.kernelCpus} vCPU${l.kernelCpus > 1 ? 's' : ''}`);
  else add('cpu-limit', '5.11', 'CPU usage is limited', 'fail', 'no CPU quota: it can use every host CPU (set --cpus)');

  if (l.pids !== null) add('pids-limit', '5.29', 'PIDs cgroup limit is used', 'pass', `at most ${l.pids} processes`);
  else if (separate) add('pids-limit', '5.29', 'PIDs cgroup limit is used', 'n/a', 'no pids limit, but a fork bomb exhausts only the guest\'s own kernel');
  else add('pids-limit', '5.29', 'PIDs cgroup limit is used', 'fail', 'no pids limit: a fork bomb reaches the host\'s process table (set --pids-limit)');

  add('read-only-root', '5.12', 'Root file system is read-only', w.readOnlyRoot ? 'pass' : 'fail', w.readOnlyRoot ? 'the root mount is ro' : 'the root mount is writable (use --read-only)');

  if (!contained) add('seccomp', '5.21', 'Default seccomp profile is not disabled', 'n/a', `${noRuntime()}; seccomp ${w.seccomp.mode} in the guest`);
  else if (w.seccomp.mode === 'filter') {
    const r = w.seccomp.rules;
    add('seccomp', '5.21', 'Default seccomp profile is not disabled', 'pass', `filter mode, ${w.seccomp.filters ?? '?'} filter(s)${r ? `, ${r.named} syscalls named (${r.allowed} allowed), default ${r.defaultAction}` : ''}`);
  } else add('seccomp', '5.21', 'Default seccomp profile is not disabled', 'fail', `seccomp ${w.seccomp.mode}: every syscall reaches the kernel`);

  if (!contained) add('no-new-privileges', '5.25', 'Acquiring new privileges is restricted', 'n/a', noRuntime());
  else add('no-new-privileges', '5.25', 'Acquiring new privileges is restricted', w.noNewPrivileges ? 'pass' : 'fail',
    w.noNewPrivileges ? 'NoNewPrivs is set: setuid binaries gain nothing' : 'NoNewPrivs is not set: setuid binaries can raise privileges');

  if (separate && !w.sensitiveMounts.length) {
    add('host-mounts', '5.5/5.31', 'No host socket or sensitive host path mounted', 'pass', sharedFolders
      ? `the guest's own disk, virtual file systems and ${sharedFolders} shared host folder(s) (virtiofs), none of them sensitive: no other host file is visible`
      : 'only the guest\'s own disk and virtual file systems: the host\'s files are not visible');
  }
  else add('host-mounts', '5.5/5.31', 'No host socket or sensitive host path mounted', w.sensitiveMounts.length ? 'fail' : 'pass',
    w.sensitiveMounts.length ? `mounted: ${w.sensitiveMounts.join('; ')}` : 'no host socket and no sensitive host directory among its mounts');
  return items;
}
