/**
 * The JSON that `isola compare --json FILE` writes and `isola advise|plan --measured` reads.
 * docs/COMPARE-FORMAT.md documents it with an example. Bump `version` on any breaking change.
 */
export const COMPARE_FORMAT = 'isola-compare';
export const COMPARE_VERSION = 3;
/**
 * Versions `isola advise|plan --measured` read: they read medians of metrics whose ids and
 * meanings are the same in all three (version 1 and 2 differ only in `extra` names, version 3 in
 * verdict codes and new metrics and kinds).
 */
export const READABLE_COMPARE_VERSIONS: readonly number[] = [1, 2, 3];

/**
 * What was measured: natively, or as one of isola's kinds, or (since version 3) `vm-os`: the
 * comparison's kind of VM, a whole disk booting a full OS (Debian with systemd) through firmware
 * and a bootloader, with the workload as one of its services.
 */
export type MeasuredKind = 'native' | 'container' | 'vm' | 'hybrid' | 'vm-os';

/** The kinds the common comparison makes claims about: containers and VMs (isola's microVM and a full-OS VM). */
export type JudgedKind = 'container' | 'vm' | 'vm-os';
export const JUDGED_KINDS: readonly JudgedKind[] = ['container', 'vm', 'vm-os'];

export interface Summary {
  /** The number of independent samples (separate launches, instances or runs, as the metric's `sample` says). */
  n: number;
  median: number;
  p10: number;
  p90: number;
  /** 95 % bootstrap confidence interval of the median. */
  ci95: [number, number];
  samples: number[];
  /**
   * What `median` and `ci95` are when they are not the median of `samples` and its interval (for
   * example the p99 of every round trip of every run pooled, with the runs' own p99s as samples);
   * absent for a plain median.
   */
  statistic?: string;
}

/** Metric ids are stable; units are part of the id so a reader never guesses. */
export type MetricId =
  | 'startup_ready_ms' // runtime or VMM ready
  | 'startup_init_ms' // guest init (or container process) running
  | 'startup_first_output_ms' // workload's first output
  | 'startup_parallel_ms' // several instances started at once: each one's time to first output
  | 'memory_overhead_bytes' // host memory of the monitor or VMM per idle instance (PSS)
  | 'memory_host_cost_bytes' // host memory per idle instance including guest pages touched
  | 'disk_image_bytes' // the image as stored (allocated)
  | 'disk_rootdisk_bytes' // VM root disk built from the image (allocated)
  | 'disk_instance_bytes' // per-instance delta (overlay upper dir or qcow2 overlay)
  | 'cpu_overhead_ratio' // median time in kind / median time native
  | 'net_rtt_p50_us'
  | 'net_rtt_p99_us'
  | 'io_seq_ratio' // sequential 1 MiB throughput / native
  | 'io_rand_ratio' // random 4 KiB throughput / native
  | 'io_shared_seq_ratio' // sequential 1 MiB throughput from a host folder mounted in the kind / native
  | 'io_shared_rand_ratio' // random 4 KiB throughput from that folder / native
  | 'density_marginal_bytes' // marginal host memory per additional idle instance
  // ---- since version 3: the user's application (--http / --tcp) ----
  | 'app_ready_ms' // from the create call to the first successful response
  | 'app_rps' // requests per second under the fixed load
  | 'app_latency_p50_ms'
  | 'app_latency_p99_ms'
  | 'app_memory_bytes' // host memory of the instance while it serves the load
  // ---- since version 3: what each kind ships, and moving it ----
  | 'portability_artifact_bytes' // the artefact as shipped: the image's blobs, or the VM's OVA
  | 'portability_transfer_ms' // pushing the image to a registry, or copying the OVA, over loopback
  | 'portability_receive_start_ms' // pull (or import) on the other side and start to the workload
  // ---- operations (compare --ops), additive within version 3: readers skip ids they do not know ----
  | 'ops_scale_ms' // a compose service scaled from 1 to N replicas, until every replica runs
  | 'ops_update_ms' // a rolling update of its N replicas (each new one ready before an old one stops)
  | 'ops_rollback_ms' // compose rollback to the previous revision, rolled the same way
  | 'ops_snapshot_ms' // isola snapshot create of one stopped instance
  | 'ops_restore_ms'; // isola snapshot restore of that snapshot

/** Which part of the report a metric belongs to (the summary speaks section by section). */
export type Section = 'startup' | 'memory' | 'disk' | 'cpu' | 'network' | 'io' | 'density' | 'app' | 'portability' | 'ops';

export interface MetricResult {
  id: MetricId;
  unit: string;
  /** One summary per kind measured; a kind missing here was not measurable (see `notMeasured`). */
  kinds: Partial<Record<MeasuredKind, Summary>>;
  notMeasured?: Partial<Record<MeasuredKind, string>>;
  /** The verdict as a sentence, per judged kind: the four words of `verdictStatus` and why. */
  verdict?: Partial<Record<JudgedKind, string>>;
  // ---- additive (since version 1): written by isola compare, optional for readers ----
  /** The common comparison's claim for this row, as text, per kind it makes a claim for (docs/CLAIMS.md). */
  claim?: Partial<Record<JudgedKind, string>>;
  /** The verdict as a code (version 3): within | better | worse | not-comparable. */
  verdictStatus?: Partial<Record<JudgedKind, VerdictStatus>>;
  /** Why a verdict is not-comparable (version 3). */
  verdictReason?: Partial<Record<JudgedKind, NotComparableReason>>;
  /** Method notes a reader needs (cache control, network path, what is and is not counted). */
  notes?: string[];
  /**
   * Metric-specific figures that are not a Summary (density extrapolation, raw timings).
   * Version 2 renamed density's `seedServer`, `idleOnSeedServer` and `sizedOnSeedServer` to
   * `exampleServer`, `idleOnExampleServer` and `sizedOnExampleServer`.
   */
  extra?: Record<string, unknown>;
  // ---- since version 3 ----
  /** What one sample is, e.g. "one launch", "one instance (3 per kind)"; n counts these. */
  sample?: string;
  /** True when a figure is the same every time it is read (sizes): one sample is enough. */
  deterministic?: boolean;
  /**
   * Additive within version 3: a kind whose figure IS another kind's measurement, not one of its
   * own (isola's microVM ships the container's OCI image, so the portability rows' size and push
   * are the same artefact's). Its verdict says so instead of comparing the figure with itself.
   */
  sharedWith?: Partial<Record<MeasuredKind, MeasuredKind>>;
}

/**
 * Version 3's four verdicts, from the reader's side: the measured interval lies within the
 * comparison's range, is better than it says, worse than it says, or cannot be compared here
 * (then `verdictReason` says why). Version 1 and 2 wrote holds | does-not-hold | not-measurable.
 */
export type VerdictStatus = 'within' | 'better' | 'worse' | 'not-comparable';

/**
 * - tcg: the VM figure is emulated and cannot confirm (or refute, in that direction) a KVM claim;
 * - too-few-samples: fewer independent samples than a verdict needs (MIN_SAMPLES);
 * - straddles: the interval lies across the claim's bound; more runs may decide;
 * - not-measured: the kind, or the reference it is compared with, was not measured here.
 */
export type NotComparableReason = 'tcg' | 'too-few-samples' | 'straddles' | 'not-measured';

export interface CompareContext {
  host: { cpu: string; cores: number; memoryBytes: number; kernel: string };
  accelerator: 'kvm' | 'tcg' | 'none';
  /** True when VM figures were measured under software emulation (TCG). */
  emulated: boolean;
  runtime: string;
  qemu?: string;
  guestKernel?: string;
  /** The image the workload rows measure: the application's with --http/--tcp, else the probe image. */
  image: string;
  startedAt: string;
  quick: boolean;
  // ---- additive (since version 1) ----
  /** Per kind: measured, or skipped with the reason; the driver's probe details. */
  kinds?: Partial<Record<MeasuredKind, { measured: boolean; reason?: string; details?: Record<string, string> }>>;
  /** Counted runs and warm-up runs per metric. */
  runs?: number;
  warmup?: number;
  /** Wall time of the whole compare, in milliseconds. */
  durationMs?: number;
  /** The random-number seed of the bootstrap resampling, so that the intervals can be recomputed. */
  bootstrapSeed?: number;
  /** The host itself runs under a hypervisor (cpuinfo flag "hypervisor"): VMs are nested. */
  virtualizedHost?: boolean;
  // ---- since version 3 ----
  /** The image the generic probes (CPU, I/O, network, density) run in: it needs busybox's programs. */
  probeImage?: string;
  /** Probe instances per kind (independent samples for memory, CPU, I/O and network). */
  probesPerKind?: number;
  /** The application measured with --http or --tcp (or the example application by default). */
  app?: AppContext;
  /** The full-OS VM arm (vm-os): what its disk holds and how it was made. */
  fullOs?: FullOsContext;
  // ---- compare --ops (additive within version 3) ----
  /** The operations table: replicas and counted runs per kind (VMs may get fewer, said here). */
  ops?: OpsContext;
}

/** What `compare --ops` measured per kind: a compose service of `replicas` replicas, `runs` times. */
export interface OpsContext {
  image: string;
  perKind: Partial<Record<MeasuredKind, { replicas: number; runs: number }>>;
  /** When a replica counts as ready (no healthcheck: running). */
  ready: string;
}

export interface AppContext {
  image: string;
  probe: 'http' | 'tcp';
  port: number;
  /** HTTP only: the path requested. */
  path?: string;
  /** The load generator and the fixed load every kind gets. */
  load?: { tool: string; version: string; threads: number; connections: number; durationS: number };
  /** Counted app instances per kind, after one warm-up. */
  runs: number;
}

export interface FullOsContext {
  /** e.g. "Debian 12 (bookworm) minbase + systemd, systemd-sysv, udev, dbus, linux-image-cloud-amd64, iproute2". */
  os: string;
  /** The OS's own kernel version, booted from the disk by syslinux. */
  kernel?: string;
  firmware: string;
  memoryMiB: number;
  /** The whole-disk image the instances boot. */
  image: string;
  /** What the workload is inside the OS: a systemd service. */
  workload: string;
  /** How the VM gets its address: isola's fw_cfg entry, read by a unit in the OS. */
  network: string;
  /** Milliseconds the one-time debootstrap took in this run; 0 when it was cached. */
  osBuildMs: number;
  /** Milliseconds to make this workload's disk (export + import); 0 when it was cached. */
  diskBuildMs: number;
  runs: number;
}

/** One section's result in plain words, for the summary on top of the table and the report. */
export interface SectionSummary {
  section: Section;
  text: string;
}

/** Where a full-OS VM's cost comes from, against isola's microVM running the same workload. */
export interface VmCostBreakdown {
  /** Startup milestones of the full-OS VM (medians, ms from the create call). */
  startup?: { firmwareMs?: number; kernelMs?: number; initMs?: number; workloadMs?: number; appMs?: number; microVmWorkloadMs?: number };
  /** Host memory per idle instance: the VMM's own and the guest pages touched (medians, bytes). */
  memory?: { vmOsVmmBytes?: number; vmOsGuestBytes?: number; microVmVmmBytes?: number; microVmGuestBytes?: number };
  /** Disk: the full OS's whole disk against the microVM's root disk (bytes). */
  disk?: { vmOsDiskBytes?: number; microVmRootBytes?: number };
  /** The explanation as sentences, computed from the figures above. */
  text: string[];
}

export interface CompareResult {
  format: typeof COMPARE_FORMAT;
  version: typeof COMPARE_VERSION;
  context: CompareContext;
  metrics: MetricResult[];
  /** Since version 3: what this host showed, section by section, in plain words. */
  summary?: SectionSummary[];
  /** Since version 3: where the VM's cost comes from (the OS inside, or the virtualization). */
  vmCost?: VmCostBreakdown;
}
