import { ASSUMPTIONS } from './assumptions.js';
import type { DecisionField, Workload } from './profile.js';
import { and, is, isOneOf, not, or, type Tri } from './three-valued.js';

/**
 * The decision rules, in one table, each with the sentence of the common VM-vs-container
 * comparison it comes from (docs/CLAIMS.md lists them). decide.ts reads only `role` and `when`;
 * everything else is for the person auditing the advice.
 *
 * Roles, strongest first:
 *   blocker    a container cannot do this at all                      -> vm, container fit NO_FIT
 *   legacy     old or unpatched software that wants its own OS         -> vm, REQUIRES_EFFORT
 *   hybrid     needs a VM boundary but otherwise suits containers      -> hybrid, REQUIRES_EFFORT
 *   isolation  needs a VM boundary                                     -> vm, REQUIRES_EFFORT
 *   hardening  containers are adequate only with extra hardening       -> hardened-container
 *   container  a reason to prefer containers (supports FIT, enables hybrid)
 *   cost       a cost consequence, reported but not deciding
 *   plan       used by `isola plan` (density and cost), not by advise
 */
export type RuleRole = 'blocker' | 'legacy' | 'hybrid' | 'isolation' | 'hardening' | 'container' | 'cost' | 'plan';

export interface Rule {
  id: string;
  section: string;
  /** The comparison's sentence, verbatim (a test checks it against the source text). */
  quote: string;
  role: RuleRole;
  /** The answers it reads: when one is missing the rule may be unknown. */
  reads: DecisionField[];
  /** true = fires, false = does not apply, undefined = cannot tell without a missing answer. */
  when?: (w: Workload) => Tri;
  /** How the advice states it when it fires. */
  reason: string;
}

const DF_VM = 'Decision Framework / Choose VMs When';
const DF_C = 'Decision Framework / Choose Containers When';
const SEC_VM = 'Security Comparison / When Security Favors VMs';
const SEC_C = 'Security Comparison / When Security is Adequate with Containers';
const COST_VM = 'Cost Comparison / VMs';
const COST_C = 'Cost Comparison / Containers';

const defaultOf = (key: string) => ASSUMPTIONS.find((a) => a.key === key)?.value ?? 0;
/** What a VM adds to a workload's memory by default: guest OS plus VMM (see assumptions.ts). */
export const VM_MEMORY_OVERHEAD_BYTES = Math.round((defaultOf('vm.guestOsMiB') + defaultOf('vm.vmmMiB')) * 2 ** 20);
/** A VM "wastes" hardware when its fixed overhead is at least this share of the workload's memory. */
export const UTILIZATION_THRESHOLD = 0.25;

// The predicates, named once so that composite rules (hybrid) read the same facts.
const differentOs = (w: Workload) => isOneOf(w.os, ['windows', 'other'] as const);
const fullOs = (w: Workload) => w.fullOsAccess;
const multiTenant = (w: Workload) => is(w.tenancy, 'multi');
const untrusted = (w: Workload) => is(w.trust, 'untrusted');
const legacy = (w: Workload) => w.legacy;
const anyCompliance = (w: Workload) => (w.compliance === undefined ? undefined : w.compliance.length > 0);
const namedCompliance = (w: Workload) =>
  w.compliance === undefined ? undefined : w.compliance.some((c) => c === 'pci-dss' || c === 'hipaa');
const microservice = (w: Workload) => is(w.architecture, 'microservice');
const cloudNative = (w: Workload) => isOneOf(w.architecture, ['microservice', 'batch'] as const);
const fastScaling = (w: Workload) => is(w.scaling, 'fast');
const parity = (w: Workload) => w.parity;
const vmWastesMemory = (w: Workload) =>
  w.memoryBytes === undefined ? undefined : VM_MEMORY_OVERHEAD_BYTES >= UTILIZATION_THRESHOLD * w.memoryBytes;
const needsVmBoundary = (w: Workload) => or(multiTenant(w), anyCompliance(w));
const suitsContainers = (w: Workload) => or(microservice(w), cloudNative(w), fastScaling(w), parity(w), vmWastesMemory(w));

export const RULES: readonly Rule[] = [
  // Decision Framework: Choose VMs When
  {
    id: 'DF-VM-1', section: DF_VM, quote: 'Running different operating systems (Windows + Linux)', role: 'blocker',
    reads: ['os'], when: differentOs,
    reason: 'its OS is not Linux, and a container shares the Linux host kernel',
  },
  {
    id: 'DF-VM-2', section: DF_VM, quote: 'Strong isolation is required (multi-tenant)', role: 'isolation',
    reads: ['tenancy'], when: multiTenant,
    reason: 'it is multi-tenant, which calls for strong (VM-level) isolation',
  },
  {
    id: 'DF-VM-3', section: DF_VM, quote: 'Legacy applications that need specific OS versions', role: 'legacy',
    reads: ['legacy'], when: legacy,
    reason: 'it is legacy software that may need a specific OS version',
  },
  {
    id: 'DF-VM-4', section: DF_VM, quote: 'Full OS access is required', role: 'blocker',
    reads: ['fullOsAccess'], when: fullOs,
    reason: 'it needs full OS access (kernel modules, its own kernel), which a container cannot give',
  },
  {
    id: 'DF-VM-5', section: DF_VM, quote: 'Compliance mandates VM-level isolation', role: 'isolation',
    reads: ['compliance'], when: anyCompliance,
    reason: 'a compliance regime is listed; isola takes a listed regime as mandating VM-level isolation (drop it if your auditor accepts containers)',
  },
  // Decision Framework: Choose Containers When
  {
    id: 'DF-C-1', section: DF_C, quote: 'Deploying microservices', role: 'container',
    reads: ['architecture'], when: microservice, reason: 'it is a microservice',
  },
  {
    id: 'DF-C-2', section: DF_C, quote: 'Need fast scaling and updates', role: 'container',
    reads: ['scaling'], when: fastScaling, reason: 'it must scale out in seconds (VMs take minutes)',
  },
  {
    id: 'DF-C-3', section: DF_C, quote: 'Development and production parity is important', role: 'container',
    reads: ['parity'], when: parity, reason: 'dev/prod parity matters: the same image runs everywhere',
  },
  {
    id: 'DF-C-4', section: DF_C, quote: 'Maximizing hardware utilization', role: 'container',
    reads: ['memoryBytes'], when: vmWastesMemory,
    reason: `as a VM it would need at least ${UTILIZATION_THRESHOLD * 100} % more memory (guest OS and VMM, ${Math.round(VM_MEMORY_OVERHEAD_BYTES / 2 ** 20)} MiB by the published defaults)`,
  },
  {
    id: 'DF-C-5', section: DF_C, quote: 'Building cloud-native applications', role: 'container',
    reads: ['architecture'], when: cloudNative, reason: 'it is cloud-native (a microservice or a batch job)',
  },
  // Security: When Security Favors VMs
  {
    id: 'SEC-VM-1', section: SEC_VM, quote: 'Multi-tenant environments with untrusted workloads', role: 'isolation',
    reads: ['tenancy', 'trust'], when: (w) => and(multiTenant(w), untrusted(w)),
    reason: 'it runs untrusted code on hosts shared by several tenants',
  },
  {
    id: 'SEC-VM-2', section: SEC_VM, quote: 'Running legacy or unpatched software', role: 'legacy',
    reads: ['legacy'], when: legacy, reason: 'legacy or unpatched software is safer behind a separate kernel',
  },
  {
    id: 'SEC-VM-3', section: SEC_VM, quote: 'Compliance requirements (PCI-DSS, HIPAA)', role: 'isolation',
    reads: ['compliance'], when: namedCompliance, reason: 'PCI-DSS or HIPAA applies',
  },
  {
    id: 'SEC-VM-4', section: SEC_VM, quote: 'Isolating different customers completely', role: 'isolation',
    reads: ['tenancy'], when: multiTenant, reason: 'different customers share hosts and must be isolated completely',
  },
  // Security: When Security is Adequate with Containers
  {
    id: 'SEC-C-1', section: SEC_C, quote: 'Single-tenant environments', role: 'container',
    reads: ['tenancy'], when: (w) => is(w.tenancy, 'single'), reason: 'it is single-tenant',
  },
  {
    id: 'SEC-C-2', section: SEC_C, quote: 'Trusted code from your organization', role: 'container',
    reads: ['trust'], when: (w) => is(w.trust, 'trusted'), reason: "it is your organisation's trusted code",
  },
  {
    id: 'SEC-C-3', section: SEC_C, quote: 'Modern, patched container images', role: 'container',
    reads: ['legacy'], when: (w) => not(w.legacy), reason: 'it is modern, patched software',
  },
  {
    // Untrusted code that is not known to share hosts with other tenants: a container is
    // adequate only with a sandbox (gVisor) or a strict seccomp/LSM profile.
    id: 'SEC-C-4', section: SEC_C, quote: 'With additional hardening (SELinux, AppArmor, gVisor)', role: 'hardening',
    reads: ['trust', 'tenancy'], when: (w) => and(untrusted(w), not(is(w.tenancy, 'multi')) ?? true),
    reason: 'it runs untrusted code, so a container needs hardening (gVisor, or strict seccomp with SELinux/AppArmor)',
  },
  // Hybrid Approach
  {
    id: 'HYB-1', section: 'Hybrid Approach', quote: 'VMs provide the isolation layer, containers run inside for efficiency.',
    role: 'hybrid', reads: ['tenancy', 'compliance', 'os', 'fullOsAccess', 'legacy', 'architecture', 'scaling', 'parity', 'memoryBytes'],
    when: (w) => and(needsVmBoundary(w), not(differentOs(w)), not(fullOs(w)), not(legacy(w)), suitsContainers(w)),
    reason: 'it needs a VM boundary (per tenant or per compliance zone) but otherwise suits containers: run containers inside those VMs',
  },
  // Cost Comparison
  {
    id: 'COST-VM-1', section: COST_VM, quote: 'OS licensing costs (Windows)', role: 'cost',
    reads: ['os'], when: (w) => is(w.os, 'windows'), reason: 'each Windows VM needs an OS licence (see isola plan)',
  },
  { id: 'COST-VM-2', section: COST_VM, quote: 'Lower density = more hardware', role: 'plan', reads: [], reason: 'plan: VM overheads lower density' },
  { id: 'COST-VM-3', section: COST_VM, quote: 'More management overhead', role: 'plan', reads: [], reason: 'plan: administration hours per VM' },
  { id: 'COST-C-1', section: COST_C, quote: 'No OS licensing per container', role: 'plan', reads: [], reason: 'plan: no licence per container' },
  { id: 'COST-C-2', section: COST_C, quote: 'Higher density = less hardware', role: 'plan', reads: [], reason: 'plan: container overheads are small' },
  { id: 'COST-C-3', section: COST_C, quote: 'Requires orchestration expertise', role: 'plan', reads: [], reason: 'plan: orchestration hours when containers are used' },
  // Resource Density
  { id: 'DEN-VM', section: 'Resource Density', quote: '≈ 25-30 VMs max', role: 'plan', reads: [], reason: "plan: the comparison's density example, 4GB VMs on 128GB / 32 cores" },
  { id: 'DEN-C', section: 'Resource Density', quote: '≈ 100-200 containers', role: 'plan', reads: [], reason: "plan: the comparison's density example, 512MB containers on 128GB / 32 cores" },
];

export function ruleById(id: string): Rule {
  const rule = RULES.find((r) => r.id === id);
  if (!rule) throw new Error(`no rule ${id}`);
  return rule;
}
