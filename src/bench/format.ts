import type { MeasuredKind, MetricId, Section } from '../core/compare-result.js';

/** Human formatting of metric values, shared by the table, the HTML report and verdict sentences. */
export function fmtValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '-';
  switch (unit) {
    case 'ms':
      return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`;
    case 'us':
      return v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`;
    case 'bytes':
      return fmtBytes(v);
    case 'ratio':
      return `${v.toFixed(2)}x`;
    case 'percent':
      return `${v.toFixed(1)} %`;
    case 'count':
      return `${Math.round(v)} instances`;
    case 'req/s':
      return v >= 100 ? `${v.toFixed(0)} req/s` : `${v.toFixed(1)} req/s`;
    default:
      return `${v.toPrecision(3)} ${unit}`;
  }
}

export function fmtBytes(b: number): string {
  const a = Math.abs(b);
  if (a >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(2)} GiB`;
  if (a >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(a >= 100 * 1024 ** 2 ? 0 : 1)} MiB`;
  if (a >= 1024) return `${(b / 1024).toFixed(0)} KiB`;
  return `${b.toFixed(0)} B`;
}

/** Row order, labels and sections, in the order of the comparison's tables. */
export const METRIC_LABELS: [MetricId, string, Section][] = [
  ['startup_ready_ms', 'startup: monitor/VMM ready', 'startup'],
  ['startup_init_ms', 'startup: workload process started', 'startup'],
  ['startup_first_output_ms', 'startup: first output', 'startup'],
  ['startup_parallel_ms', 'startup: several at once, each', 'startup'],
  ['app_ready_ms', 'app: start to first response', 'app'],
  ['app_rps', 'app: requests per second', 'app'],
  ['app_latency_p50_ms', 'app: latency p50 under load', 'app'],
  ['app_latency_p99_ms', 'app: latency p99 under load', 'app'],
  ['app_memory_bytes', 'app: host memory while serving', 'app'],
  ['memory_host_cost_bytes', 'memory: host cost per idle instance', 'memory'],
  ['memory_overhead_bytes', 'memory: of which monitor/VMM', 'memory'],
  ['disk_image_bytes', 'disk: image as stored', 'disk'],
  ['disk_rootdisk_bytes', 'disk: per-image derived (VM disk)', 'disk'],
  ['disk_instance_bytes', 'disk: per-instance delta', 'disk'],
  ['cpu_overhead_ratio', 'CPU: time vs native', 'cpu'],
  ['net_rtt_p50_us', 'network RTT p50', 'network'],
  ['net_rtt_p99_us', 'network RTT p99', 'network'],
  ['io_seq_ratio', 'disk I/O: sequential 1 MiB vs native', 'io'],
  ['io_rand_ratio', 'disk I/O: random 4 KiB vs native', 'io'],
  ['io_shared_seq_ratio', 'shared folder I/O: sequential 1 MiB vs native', 'io'],
  ['io_shared_rand_ratio', 'shared folder I/O: random 4 KiB vs native', 'io'],
  ['density_marginal_bytes', 'density: marginal memory per instance', 'density'],
  ['portability_artifact_bytes', 'portability: artefact shipped', 'portability'],
  ['portability_transfer_ms', 'portability: push or copy', 'portability'],
  ['portability_receive_start_ms', 'portability: pull or import, and start', 'portability'],
  ['ops_scale_ms', 'operations: scale out 1 -> N replicas', 'ops'],
  ['ops_update_ms', 'operations: rolling update of N replicas', 'ops'],
  ['ops_rollback_ms', 'operations: roll back to the previous revision', 'ops'],
  ['ops_snapshot_ms', 'operations: snapshot (stopped instance)', 'ops'],
  ['ops_restore_ms', 'operations: restore that snapshot', 'ops'],
];

export const labelOf = (id: MetricId): string => METRIC_LABELS.find(([m]) => m === id)?.[1] ?? id;
export const orderOf = (id: MetricId): number => METRIC_LABELS.findIndex(([m]) => m === id);
export const sectionOf = (id: MetricId): Section => METRIC_LABELS.find(([m]) => m === id)?.[2] ?? 'startup';

/** Every kind a report may show, in column order. */
export const COLUMNS: MeasuredKind[] = ['native', 'container', 'vm', 'hybrid', 'vm-os'];

/** A kind's name as the reports print it: the full-OS VM says what it is. */
export function kindLabel(k: MeasuredKind): string {
  return k === 'vm-os' ? 'vm: full OS' : k === 'vm' ? 'vm: microVM' : k;
}
