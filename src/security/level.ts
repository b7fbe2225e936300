import type { CheckItem } from './checklist.js';
import type { WorkloadFacts } from './workload.js';

/** The VMM (QEMU) as measured from the host's /proc. */
export interface VmmConfinement {
  confined: boolean;
  summary: string;
}

/** The common comparison's security table (docs/CLAIMS.md), one row per aspect, chosen by what was measured. */
export interface IsolationLevel {
  kernel: 'Shared' | 'Separate' | 'Unknown';
  attackSurface: 'Larger' | 'Smaller' | 'Unknown';
  escapeDifficulty: string;
  cveImpact: string;
  /** The boundaries between the workload and the host, outermost last. */
  layers: string[];
  summary: string;
}

/**
 * `vmm`: where the kernel is separate, how the host process that runs it (QEMU) is confined; a
 * guest escape lands there, so a root VMM with every capability is not rated like a jailed one.
 */
export function isolationLevel(w: WorkloadFacts, kernelShared: boolean | null, checks: CheckItem[], hypervisor: string, vmm: VmmConfinement | null = null): IsolationLevel {
  const contained = w.namespaces.own.length > 0;
  const layers: string[] = [];
  if (contained) {
    layers.push(`namespaces (${w.namespaces.own.join(', ')})`);
    layers.push(`capabilities (${w.capabilities.count} of ${w.capabilities.of})`);
    if (w.seccomp.mode === 'filter') layers.push('seccomp filter');
    if (w.noNewPrivileges) layers.push('no-new-privileges');
    if (w.lsm.label) layers.push(`LSM ${w.lsm.label}`);
  }
  if (kernelShared === false) layers.push(`own kernel behind ${hypervisor}`);
  if (kernelShared === false && vmm?.confined) layers.push(`VMM jail (${vmm.summary})`);
  const weakened = checks.filter((c) => c.status === 'fail' && ['capabilities', 'privileged', 'seccomp', 'no-new-privileges', 'host-namespaces', 'host-mounts'].includes(c.id)).map((c) => c.id);

  if (kernelShared === false) {
    const two = contained;
    const beyond = vmm?.confined
      ? `, then out of a jailed VMM (${vmm.summary})`
      : vmm ? `; the VMM runs unconfined (${vmm.summary}), so an escape from the VM owns the host` : '';
    const path = two ? 'out of the container, then out of the VM' : 'out of the VM';
    const escape = vmm === null
      ? (two ? 'Very Hard (two layers: out of the container, then out of the VM)' : 'Very Hard') // the VMM was not measured
      : `${vmm.confined ? 'Very Hard' : 'Hard'} (${path}${beyond})`;
    return {
      kernel: 'Separate',
      attackSurface: 'Smaller',
      escapeDifficulty: escape,
      cveImpact: 'Limited to VM',
      layers,
      summary: two ? 'container inside a VM: the VM isolates, the container hardens inside the guest' : 'VM: the workload runs on its own kernel; the host sees only the VMM',
    };
  }
  const escape = w.privileged
    ? 'Easy: privileged (every capability, no seccomp) on the host kernel'
    : weakened.length
      ? `Harder but possible, weakened (${weakened.join(', ')})`
      : 'Harder but possible';
  return {
    kernel: kernelShared === null ? 'Unknown' : 'Shared',
    attackSurface: kernelShared === null ? 'Unknown' : 'Larger',
    escapeDifficulty: escape,
    cveImpact: 'May affect all containers',
    layers,
    summary: w.privileged ? 'privileged container: host kernel shared with almost no restriction' : 'container: the host kernel is shared; namespaces, capabilities and seccomp restrict it',
  };
}
