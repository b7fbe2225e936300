import type { SecurityProfile } from './profile.js';
import { renderMachineSharing } from './machine.js';

const mib = (b: number | null) => (b === null ? 'none' : `${Math.round(b / 1048576)} MiB`);
const mark = { pass: 'PASS', fail: 'FAIL', 'n/a': 'N/A ' } as const;

/** The profile as text, for `isola inspect --security NAME`. */
export function renderProfile(p: SecurityProfile): string {
  const w = p.workload;
  const k = p.kernel;
  const lines = [
    `${p.instance.name} (${p.instance.kind}, ${p.instance.id.slice(0, 12)})`,
    `Isolation: kernel ${k.shared === null ? 'unknown' : k.shared ? 'shared' : 'separate'}; escape difficulty: ${p.level.escapeDifficulty}; attack surface: ${p.level.attackSurface}; CVE impact: ${p.level.cveImpact}`,
    `  ${p.level.summary}`,
    `  layers: ${p.level.layers.join(' > ') || 'none'}`,
    '',
    'Measured',
    `  kernel            host ${k.host}, instance ${k.instance ?? 'unknown'} (${k.evidence})`,
    `  measured via      ${p.measuredVia}`,
    `  host process      pid ${p.hostProcess.pid} ${p.hostProcess.command}, uid ${p.hostProcess.uid}, ${p.hostProcess.capabilities} capabilities, seccomp ${p.hostProcess.seccomp}, own namespaces: ${p.hostProcess.ownNamespaces.join(', ') || 'none'}`,
    ...(p.hostProcess.vmm ? [`  VMM               ${p.hostProcess.vmm.confined ? 'jailed' : 'NOT confined'}: ${p.hostProcess.vmm.summary}`] : []),
    `  workload          ${w.command}, uid ${w.uid}`,
    `  namespaces        own: ${w.namespaces.own.join(', ') || 'none'}; shared with ${w.namespaces.comparedWith}: ${w.namespaces.sharedWithKernelInit.join(', ') || 'none'}`,
    `  capabilities      ${w.capabilities.count} of ${w.capabilities.of} (CapEff ${w.capabilities.hex})${w.capabilities.count && w.capabilities.count < w.capabilities.of ? `: ${w.capabilities.effective.map((c) => c.replace('CAP_', '')).join(' ')}` : ''}`,
    `  seccomp           ${w.seccomp.mode}${w.seccomp.filters !== null ? `, ${w.seccomp.filters} filter(s)` : ''}${w.seccomp.rules ? `; ${w.seccomp.rules.named} syscalls named (${w.seccomp.rules.allowed} allowed, ${w.seccomp.rules.restricted} restricted), default ${w.seccomp.rules.defaultAction}` : ''}`,
    `  LSM               ${w.lsm.note}`,
    `  user namespace    ${w.userNamespace.remapped ? 'remapped' : 'not remapped: uid 0 inside is uid 0 of its kernel'} (uid_map ${w.userNamespace.uidMap.join('; ')})`,
    `  read-only root    ${w.readOnlyRoot ? 'yes' : 'no'}`,
    `  no-new-privileges ${w.noNewPrivileges === null ? 'unknown' : w.noNewPrivileges ? 'yes' : 'no'}`,
    `  limits            memory ${mib(w.limits.memoryBytes)}, cpu ${w.limits.cpuQuota ?? 'none'}, pids ${w.limits.pids ?? 'none'}; its kernel sees ${mib(w.limits.kernelMemoryBytes)} RAM, ${w.limits.kernelCpus ?? '?'} CPUs`,
    `  privileged        ${w.privileged ? 'yes' : 'no'}`,
    '',
    'Checklist (CIS Docker Benchmark, container runtime)',
    ...p.checklist.map((c) => `  ${mark[c.status]}  ${c.cis.padEnd(18)} ${c.title}: ${c.reason}`),
    ...(p.machine ? renderMachineSharing(p.machine) : []),
  ];
  return `${lines.join('\n')}\n`;
}
