import type { MeasuredKind, MetricId } from '../core/compare-result.js';

/**
 * The performance table, density example and portability comparison of the common
 * VM-vs-container comparison (every claim with its source is in docs/CLAIMS.md), as numbers a
 * verdict can be checked against. `better` says which direction is cheaper/faster, which is what
 * lets an emulated (TCG) VM figure refute a claim but never confirm it: TCG is at least as slow
 * and as memory-hungry as KVM, so if even TCG beats a claimed cost, KVM does too.
 *
 * A VM claim is judged for both VMs isola measures: its microVM (`vm`) and the comparison's kind
 * of VM, a whole disk booting a full OS (`vm-os`).
 */
export type ClaimShape =
  | { type: 'range'; lo: number; hi: number } // the value lies in [lo, hi]
  | { type: 'below'; hi: number } // the value is below hi
  | { type: 'above-ref'; ref: MeasuredKind } // "higher", "large", "slow": above the ref kind's median
  | { type: 'below-ref'; ref: MeasuredKind } // "small", "quickly": below the ref kind's median
  | { type: 'near-ref'; ref: MeasuredKind; factor: number }; // within factor x the ref kind's median

export interface Claim {
  text: string;
  shape: ClaimShape;
  /** 'lower' when smaller values are better (times, bytes), 'higher' for throughput ratios and counts. */
  better: 'lower' | 'higher';
  /** The claim holds for a KVM VM, so a TCG figure can only refute it. False for sizes. */
  dependsOnAccelerator: boolean;
  /** The measured quantity, when it is not the metric's median itself. */
  derive?: 'overhead-percent' | 'disk-per-vm' | 'density-sized';
}

const MB = 1e6;
const GB = 1e9;

const startup = {
  vm: { text: '30 s - 5 min', shape: { type: 'range', lo: 30_000, hi: 300_000 }, better: 'lower', dependsOnAccelerator: true },
  container: { text: '< 1 s', shape: { type: 'below', hi: 1000 }, better: 'lower', dependsOnAccelerator: false },
} as const satisfies { vm: Claim; container: Claim };

/** Claims per metric; a metric not listed here has no claim in the comparison (shown, not judged). */
export const CLAIMS: Partial<Record<MetricId, { vm?: Claim; container?: Claim }>> = {
  startup_first_output_ms: startup,
  // The comparison's startup is the time until the workload runs; for a service, until it answers.
  app_ready_ms: startup,
  // "Memory Overhead" per VM is what a guest OS costs the host beyond its application, so it is
  // judged on everything the host pays for an idle instance (the VMM and the guest pages its OS
  // touched; for a container, its monitor and idle workload). memory_overhead_bytes shows the
  // VMM's or monitor's part alone: the cost of the virtualization, without the OS inside.
  memory_host_cost_bytes: {
    vm: { text: '512 MB - 2 GB', shape: { type: 'range', lo: 512 * MB, hi: 2 * GB }, better: 'lower', dependsOnAccelerator: true },
    container: { text: '5-50 MB', shape: { type: 'range', lo: 5 * MB, hi: 50 * MB }, better: 'lower', dependsOnAccelerator: false },
  },
  disk_image_bytes: {
    container: { text: '100 MB - 1 GB per image', shape: { type: 'range', lo: 100 * MB, hi: 1 * GB }, better: 'lower', dependsOnAccelerator: false },
  },
  disk_instance_bytes: {
    vm: { text: '10-100 GB per VM', shape: { type: 'range', lo: 10 * GB, hi: 100 * GB }, better: 'lower', dependsOnAccelerator: false, derive: 'disk-per-vm' },
  },
  cpu_overhead_ratio: {
    vm: { text: '5-15 %', shape: { type: 'range', lo: 5, hi: 15 }, better: 'lower', dependsOnAccelerator: true, derive: 'overhead-percent' },
    container: { text: '< 1 %', shape: { type: 'below', hi: 1 }, better: 'lower', dependsOnAccelerator: false, derive: 'overhead-percent' },
  },
  net_rtt_p50_us: {
    vm: { text: 'higher (virtualized NIC)', shape: { type: 'above-ref', ref: 'container' }, better: 'lower', dependsOnAccelerator: true },
    container: { text: 'near-native', shape: { type: 'near-ref', ref: 'native', factor: 1.5 }, better: 'lower', dependsOnAccelerator: false },
  },
  io_seq_ratio: {
    vm: { text: '80-95 % of native', shape: { type: 'range', lo: 0.8, hi: 0.95 }, better: 'higher', dependsOnAccelerator: true },
    container: { text: '95-100 % of native', shape: { type: 'range', lo: 0.95, hi: 1.05 }, better: 'higher', dependsOnAccelerator: false },
  },
  io_rand_ratio: {
    vm: { text: '80-95 % of native', shape: { type: 'range', lo: 0.8, hi: 0.95 }, better: 'higher', dependsOnAccelerator: true },
    container: { text: '95-100 % of native', shape: { type: 'range', lo: 0.95, hi: 1.05 }, better: 'higher', dependsOnAccelerator: false },
  },
  // The same claim for a host folder the VM works on (-v): what "disk I/O" means for shared data.
  io_shared_seq_ratio: {
    vm: { text: '80-95 % of native', shape: { type: 'range', lo: 0.8, hi: 0.95 }, better: 'higher', dependsOnAccelerator: true },
    container: { text: '95-100 % of native', shape: { type: 'range', lo: 0.95, hi: 1.05 }, better: 'higher', dependsOnAccelerator: false },
  },
  io_shared_rand_ratio: {
    vm: { text: '80-95 % of native', shape: { type: 'range', lo: 0.8, hi: 0.95 }, better: 'higher', dependsOnAccelerator: true },
    container: { text: '95-100 % of native', shape: { type: 'range', lo: 0.95, hi: 1.05 }, better: 'higher', dependsOnAccelerator: false },
  },
  density_marginal_bytes: {
    vm: { text: '25-30 VMs of 4 GB on 128 GB', shape: { type: 'range', lo: 25, hi: 30 }, better: 'higher', dependsOnAccelerator: true, derive: 'density-sized' },
    container: { text: '100-200 containers of 512 MB on 128 GB', shape: { type: 'range', lo: 100, hi: 200 }, better: 'higher', dependsOnAccelerator: false, derive: 'density-sized' },
  },
  // Portability: "Large file sizes make transfers slow" (VMs), "Small images transfer quickly"
  // (containers). Relative claims: the VM's artefact against the container's image, and the
  // container's image against the comparison's kind of VM (the full-OS VM's OVA).
  portability_artifact_bytes: {
    vm: { text: 'large files (larger than the image)', shape: { type: 'above-ref', ref: 'container' }, better: 'lower', dependsOnAccelerator: false },
    container: { text: 'small images (smaller than the VM\'s OVA)', shape: { type: 'below-ref', ref: 'vm-os' }, better: 'lower', dependsOnAccelerator: false },
  },
  portability_transfer_ms: {
    vm: { text: 'transfers slow (slower than the image\'s)', shape: { type: 'above-ref', ref: 'container' }, better: 'lower', dependsOnAccelerator: false },
    container: { text: 'transfer quickly (faster than the VM\'s OVA)', shape: { type: 'below-ref', ref: 'vm-os' }, better: 'lower', dependsOnAccelerator: false },
  },
  portability_receive_start_ms: {
    vm: { text: 'import (may need conversion), slower than a pull', shape: { type: 'above-ref', ref: 'container' }, better: 'lower', dependsOnAccelerator: true },
    // Its reference is a VM's time: emulated, it is only an upper bound of KVM's.
    container: { text: 'pull anywhere, faster than a VM import', shape: { type: 'below-ref', ref: 'vm-os' }, better: 'lower', dependsOnAccelerator: true },
  },
  // Its operations table: "Scaling Out | Minutes | Seconds". Minutes for a VM is a minute or more,
  // seconds for a container under a minute; the time until every new replica runs.
  ops_scale_ms: {
    vm: { text: 'Minutes', shape: { type: 'range', lo: 60_000, hi: 3_600_000 }, better: 'lower', dependsOnAccelerator: true },
    container: { text: 'Seconds', shape: { type: 'below', hi: 60_000 }, better: 'lower', dependsOnAccelerator: false },
  },
};

/**
 * The rest of the operations table says how, not how long: its words stand next to the measured
 * rows (claimed columns) with no verdict, since no figure could confirm or refute them. isola
 * does the same for every kind (a rolling update by a new revision, a rollback to the previous
 * one, snapshots of either), which the rows' notes say.
 */
export const WORDS: Partial<Record<MetricId, { vm?: string; container?: string }>> = {
  ops_update_ms: { vm: 'In-place updates', container: 'Replace with new image' },
  ops_rollback_ms: { vm: 'From snapshots', container: 'Pull previous image version' },
  ops_snapshot_ms: { vm: 'From snapshots (rollback)' },
  ops_restore_ms: { vm: 'From snapshots (rollback)' },
};

/** Ranges the comparison writes with "≈" (the density example) get this relative tolerance at both ends. */
export const TOLERANCE = 0.1;

/** Fewer independent samples than this cannot support a verdict (a deterministic figure needs one). */
export const MIN_SAMPLES = 3;
