import type { CompareResult, MeasuredKind, MetricId } from '../core/compare-result.js';
import type { BenchRow } from './bench-rows.js';
import { labelOf } from './format.js';
import { median } from './stats.js';

/**
 * The stability check of `npm run bench`: `isola compare --quick` twice on the same host, and
 * how far each median moved from the first run to the second, |b - a| / a. Rows of a kind run
 * under emulation (TCG) get a wider target than the others: emulated figures move more.
 */
export const STABILITY_TARGET = { direct: 0.10, emulated: 0.15 } as const;

export interface Move {
  metric: MetricId;
  kind: MeasuredKind;
  first: number;
  second: number;
  /** |second - first| / |first|. */
  moved: number;
  emulated: boolean;
}

const VMISH: readonly MeasuredKind[] = ['vm', 'hybrid', 'vm-os'];

/** Every (metric, kind) median both runs measured, with how far it moved. */
export function medianMoves(a: CompareResult, b: CompareResult): Move[] {
  const out: Move[] = [];
  for (const ma of a.metrics) {
    const mb = b.metrics.find((m) => m.id === ma.id);
    if (!mb) continue;
    for (const [k, sa] of Object.entries(ma.kinds) as [MeasuredKind, { median: number }][]) {
      const sb = mb.kinds[k];
      if (!sb || !Number.isFinite(sa.median) || !Number.isFinite(sb.median) || sa.median === 0) continue;
      out.push({ metric: ma.id, kind: k, first: sa.median, second: sb.median, moved: Math.abs(sb.median - sa.median) / Math.abs(sa.median), emulated: a.context.emulated && VMISH.includes(k) });
    }
  }
  return out;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** Two rows: the direct kinds' medians (container, native) and the emulated ones, each with its spread and the rows past the target. */
export function stabilityRows(a: CompareResult, b: CompareResult): BenchRow[] {
  const moves = medianMoves(a, b);
  const rows: BenchRow[] = [];
  for (const emulated of [false, true]) {
    const group = moves.filter((m) => m.emulated === emulated);
    const target = emulated ? STABILITY_TARGET.emulated : STABILITY_TARGET.direct;
    const name = emulated ? 'compare --quick twice: medians moved, VM rows (TCG)' : 'compare --quick twice: medians moved, container and native rows';
    if (group.length === 0) {
      rows.push({ name, value: null, unit: '%', target: `each <= ${pct(target)}`, ok: null, note: 'no row of this kind in both runs' });
      continue;
    }
    const sorted = [...group].sort((x, y) => y.moved - x.moved);
    const past = sorted.filter((m) => m.moved > target);
    const worst = sorted[0] as Move;
    rows.push({
      name,
      value: Number((median(group.map((m) => m.moved)) * 100).toFixed(1)),
      unit: '% (median)',
      target: `each <= ${pct(target)}`,
      ratio: `max ${pct(worst.moved)} (${labelOf(worst.metric)}, ${worst.kind})`,
      ok: past.length === 0,
      note: `${group.length} rows; ${past.length ? `past the target: ${past.slice(0, 6).map((m) => `${labelOf(m.metric)} ${m.kind} ${pct(m.moved)}`).join(', ')}${past.length > 6 ? `, and ${past.length - 6} more` : ''}` : 'every row within the target'}`,
    });
  }
  return rows;
}
