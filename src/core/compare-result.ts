/**
 * The JSON that `isola compare --json FILE` writes and `isola advise|plan --measured FILE` reads.
 * docs/COMPARE-FORMAT.md documents it with an example. Bump `version` on any breaking change.
 */
export const COMPARE_FORMAT = 'isola-compare';
export const COMPARE_VERSION = 2;
/** Versions `isola advise|plan --measured` read: version 1 differs only in `extra` names they do not read. */
export const READABLE_COMPARE_VERSIONS: readonly number[] = [1, 2];

export type MeasuredKind = 'native' | 'container' | 'vm' | 'hybrid';

export interface Summary {
  n: number;
  median: number;
  p10: number;
  p90: number;
  /** 95 % bootstrap confidence interval of the median. */
  ci95: [number, number];
  samples: number[];
}

/** Metric ids are stable; units are part of the id so a reader never guesses. */
export type MetricId =
  | 'startup_ready_ms' // runtime or VMM ready
  | 'startup_init_ms' // guest init (or container process) running
  | 'startup_first_output_ms' // workload's first output
  | 'startup_parallel_ms' // wall time to start several instances at once, per instance
  | 'memory_overhead_bytes' // host memory beyond the workload per idle instance (PSS)
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
  | 'density_marginal_bytes'; // marginal host memory per additional idle instance

export interface MetricResult {
  id: MetricId;
  unit: string;
  /** One summary per kind measured; a kind missing here was not measurable (see `notMeasured`). */
  kinds: Partial<Record<MeasuredKind, Summary>>;
  notMeasured?: Partial<Record<MeasuredKind, string>>;
  verdict?: { vm?: string; container?: string };
  // ---- additive (since version 1): written by isola compare, optional for readers ----
  /** The common comparison's claim for this row, as text, per kind it makes a claim for (docs/CLAIMS.md). */
  claim?: { vm?: string; container?: string };
  /** The verdict as a code: holds | does-not-hold | not-measurable (`verdict` has the sentence). */
  verdictStatus?: { vm?: VerdictStatus; container?: VerdictStatus };
  /** Method notes a reader needs (cache control, network path, what is and is not counted). */
  notes?: string[];
  /**
   * Metric-specific figures that are not a Summary (density extrapolation, raw timings).
   * Version 2 renamed density's `seedServer`, `idleOnSeedServer` and `sizedOnSeedServer` to
   * `exampleServer`, `idleOnExampleServer` and `sizedOnExampleServer`.
   */
  extra?: Record<string, unknown>;
}

export type VerdictStatus = 'holds' | 'does-not-hold' | 'not-measurable';

export interface CompareContext {
  host: { cpu: string; cores: number; memoryBytes: number; kernel: string };
  accelerator: 'kvm' | 'tcg' | 'none';
  /** True when VM figures were measured under software emulation (TCG). */
  emulated: boolean;
  runtime: string;
  qemu?: string;
  guestKernel?: string;
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
}

export interface CompareResult {
  format: typeof COMPARE_FORMAT;
  version: typeof COMPARE_VERSION;
  context: CompareContext;
  metrics: MetricResult[];
}
