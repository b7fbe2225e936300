/**
 * A workload profile as the user describes it. Every answer is optional: `undefined` means
 * "not answered", and the advice names it instead of assuming a value.
 */
export const OS_VALUES = ['linux', 'windows', 'other'] as const;
export const TRUST_VALUES = ['trusted', 'untrusted'] as const;
export const TENANCY_VALUES = ['single', 'multi'] as const;
export const COMPLIANCE_VALUES = ['pci-dss', 'hipaa', 'fedramp', 'iso27001'] as const;
export const ARCHITECTURE_VALUES = ['microservice', 'monolith', 'batch', 'desktop'] as const;
export const SCALING_VALUES = ['fast', 'slow'] as const;

export type Os = (typeof OS_VALUES)[number];
export type Trust = (typeof TRUST_VALUES)[number];
export type Tenancy = (typeof TENANCY_VALUES)[number];
export type Compliance = (typeof COMPLIANCE_VALUES)[number];
export type Architecture = (typeof ARCHITECTURE_VALUES)[number];
export type Scaling = (typeof SCALING_VALUES)[number];

export interface Workload {
  name: string;
  os?: Os;
  trust?: Trust;
  tenancy?: Tenancy;
  compliance?: Compliance[];
  legacy?: boolean;
  fullOsAccess?: boolean;
  architecture?: Architecture;
  scaling?: Scaling;
  parity?: boolean;
  /** Bytes the workload itself needs (without any per-instance overhead). */
  memoryBytes?: number;
  cpus?: number;
  replicas?: number;
  // ---- isola plan --kube: what the manifests run (advice and placement do not read them) ----
  /** The OCI image a container or hybrid pod runs. */
  image?: string;
  /** The KubeVirt containerDisk image a VM boots. */
  containerDisk?: string;
  /** TCP ports the workload listens on, published by a Service. */
  ports?: number[];
  /** Position in the file's workload list, so that later errors can point at its line. */
  index: number;
}

/** The answers that the decision rules read; memory also feeds the utilization rule. */
export const DECISION_FIELDS = [
  'os', 'trust', 'tenancy', 'compliance', 'legacy', 'fullOsAccess', 'architecture', 'scaling', 'parity', 'memoryBytes',
] as const;
export type DecisionField = (typeof DECISION_FIELDS)[number];

/** One kind of host that `isola plan` may buy. */
export interface HostType {
  name: string;
  memoryBytes: number;
  cores: number;
  /** Purchase price of one host, in the currency of the cost assumptions. */
  cost?: number;
  /** How many such hosts exist; when set, plan says whether they are enough. */
  count?: number;
}

/** Where an inventory came from, so that errors found after parsing can name file and line. */
export interface InventorySource {
  file: string;
  /** Line of the value at `path` (for example ['workloads', 3, 'memory']), if known. */
  lineOf(path: (string | number)[]): number | undefined;
  /** The path of workload `index` in this file (['workloads', index], or [] for a single workload). */
  workloadPath(index: number): (string | number)[];
}

export interface Inventory {
  workloads: Workload[];
  hosts: HostType[];
  /** Overrides of the plan's assumptions (see assumptions.ts), by key. */
  assumptions: Record<string, number>;
  source?: InventorySource;
}
