import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CompareResult, MeasuredKind, MetricId, Summary } from '../core/compare-result.js';
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
  /** Each run's p10-p90 of the samples and their number: the spread a reader judges the move against. */
  spread: [{ p10: number; p90: number; n: number }, { p10: number; p90: number; n: number }];
}

const VMISH: readonly MeasuredKind[] = ['vm', 'hybrid', 'vm-os'];

/** Every (metric, kind) median both runs measured, with how far it moved. */
export function medianMoves(a: CompareResult, b: CompareResult): Move[] {
  const out: Move[] = [];
  for (const ma of a.metrics) {
    const mb = b.metrics.find((m) => m.id === ma.id);
    if (!mb) continue;
    for (const [k, sa] of Object.entries(ma.kinds) as [MeasuredKind, Summary][]) {
      const sb = mb.kinds[k];
      if (!sb || !Number.isFinite(sa.median) || !Number.isFinite(sb.median) || sa.median === 0) continue;
      const spread = (x: Summary) => ({ p10: x.p10, p90: x.p90, n: x.n });
      out.push({ metric: ma.id, kind: k, first: sa.median, second: sb.median, moved: Math.abs(sb.median - sa.median) / Math.abs(sa.median), emulated: a.context.emulated && VMISH.includes(k), spread: [spread(sa), spread(sb)] });
    }
  }
  return out;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const fig = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

/** One row past the target, with both medians and both runs' p10-p90 (n): "network RTT p99 vm 46.9 % (120 -> 176; p10-p90 110-130 n=6, 150-190 n=6)". */
export function describeMove(m: Move): string {
  const [a, b] = m.spread;
  return `${labelOf(m.metric)} ${m.kind} ${pct(m.moved)} (${fig(m.first)} -> ${fig(m.second)}; p10-p90 ${fig(a.p10)}-${fig(a.p90)} n=${a.n}, ${fig(b.p10)}-${fig(b.p90)} n=${b.n})`;
}

/** Two rows: the direct kinds' medians (container, native) and the emulated ones, each with its spread and the rows past the target. */
export function stabilityRows(a: CompareResult, b: CompareResult, loads?: readonly number[]): BenchRow[] {
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
      note: `${group.length} rows${loads?.length === 2 ? ` (1-minute load average at the start of each run: ${loads.map((l) => l.toFixed(2)).join(', ')})` : ''}; ${past.length ? `past the target: ${past.slice(0, 6).map(describeMove).join(', ')}${past.length > 6 ? `, and ${past.length - 6} more` : ''}` : 'every row within the target'}`,
    });
  }
  return rows;
}

/** The time budget of `compare --quick` (issue's budget: 90 s on this project's 2-core test host). */
export const QUICK_BUDGET_MS = 90_000;

/** The budget row: the slower of the two wall times of `compare --quick` (the whole command, as a user waits for it). */
export function quickBudgetRow(wallMs: readonly number[]): BenchRow {
  const name = 'compare --quick: wall time, slower of 2 runs';
  const target = `< ${QUICK_BUDGET_MS / 1000} s`;
  if (wallMs.length === 0) return { name, value: null, unit: 's', target, ok: null, note: 'no run finished' };
  const worst = Math.max(...wallMs);
  return { name, value: Number((worst / 1000).toFixed(1)), unit: 's', target, ratio: `runs: ${wallMs.map((w) => `${(w / 1000).toFixed(1)} s`).join(', ')}`, ok: worst < QUICK_BUDGET_MS };
}

/**
 * `npm run bench`'s stability check: `isola compare --quick` twice through the CLI (in the bench's
 * own data root), how far each median moved, and the slower wall time against the budget.
 */
export async function compareQuickTwice(
  isola: (args: string[]) => Promise<{ code: number; stderr: string; ms: number }>,
  dir: string,
  log: (s: string) => void,
  readJson: (file: string) => CompareResult,
): Promise<{ rows: BenchRow[]; raw: Record<string, unknown> }> {
  const rows: BenchRow[] = [];
  const raw: Record<string, unknown> = {};
  const results: CompareResult[] = [];
  const walls: number[] = [];
  const loads: number[] = [];
  for (const i of [1, 2]) {
    const load = os.loadavg()[0] ?? NaN;
    log(`stability: isola compare --quick, run ${i}/2 (load average ${load.toFixed(2)})`);
    const file = `${dir}/compare-quick-${i}.json`;
    const r = await isola(['compare', '--quick', '--json', file]);
    if (r.code !== 0) {
      rows.push({ name: 'compare --quick twice: medians moved', value: null, unit: '%', target: 'container <= 10 %, TCG <= 15 %', ok: false, note: `compare --quick run ${i} exited with ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}` });
      break;
    }
    const res = readJson(file);
    results.push(res);
    walls.push(r.ms);
    loads.push(load);
    raw[`compareQuick${i}`] = { durationMs: res.context.durationMs, wallMs: r.ms, loadAverageAtStart: load };
  }
  const [a, b] = results;
  if (a && b) {
    rows.push(...stabilityRows(a, b, loads));
    raw.medianMoves = medianMoves(a, b);
  }
  rows.push(quickBudgetRow(walls));
  return { rows, raw };
}

/**
 * Keeps the two runs' JSON next to the bench's own (`results.json` -> `results.compare-quick-1.json`),
 * so that a reader can check every sample behind a move; the bench's data root is removed at the end.
 */
export function keepRuns(dir: string, jsonOut: string): string[] {
  const kept: string[] = [];
  const base = jsonOut.replace(/\.json$/, '');
  for (const i of [1, 2]) {
    const from = path.join(dir, `compare-quick-${i}.json`);
    if (!fs.existsSync(from)) continue;
    const to = `${base}.compare-quick-${i}.json`;
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(from, to);
    kept.push(to);
  }
  return kept;
}
