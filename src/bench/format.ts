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

import type { MetricId } from '../core/compare-result.js';

/** Row order and labels, in the order of the comparison's performance table. */
export const METRIC_LABELS: [MetricId, string][] = [
  ['startup_ready_ms', 'startup: monitor/VMM ready'],
  ['startup_init_ms', 'startup: workload process started'],
  ['startup_first_output_ms', 'startup: first output'],
  ['startup_parallel_ms', 'startup: parallel, per instance'],
  ['memory_overhead_bytes', 'memory overhead (beyond workload)'],
  ['memory_host_cost_bytes', 'memory: host cost per idle instance'],
  ['disk_image_bytes', 'disk: image as stored'],
  ['disk_rootdisk_bytes', 'disk: per-image derived (VM root disk)'],
  ['disk_instance_bytes', 'disk: per-instance delta'],
  ['cpu_overhead_ratio', 'CPU: time vs native'],
  ['net_rtt_p50_us', 'network RTT p50'],
  ['net_rtt_p99_us', 'network RTT p99'],
  ['io_seq_ratio', 'disk I/O: sequential 1 MiB vs native'],
  ['io_rand_ratio', 'disk I/O: random 4 KiB vs native'],
  ['io_shared_seq_ratio', 'shared folder I/O: sequential 1 MiB vs native'],
  ['io_shared_rand_ratio', 'shared folder I/O: random 4 KiB vs native'],
  ['density_marginal_bytes', 'density: marginal memory per instance'],
];

export const labelOf = (id: MetricId): string => METRIC_LABELS.find(([m]) => m === id)?.[1] ?? id;
export const orderOf = (id: MetricId): number => METRIC_LABELS.findIndex(([m]) => m === id);
