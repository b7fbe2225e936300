/** One line of `npm run bench`: a measured value next to its target. */
export interface BenchRow {
  name: string;
  value: number | null;
  unit: string;
  target: string;
  /** e.g. "isola/runc 1.31 pair by pair"; empty when there is nothing to compare with. */
  ratio?: string;
  ok: boolean | null;
  /** Why there is no value, when there is none. */
  note?: string;
}

export function renderRows(rows: BenchRow[]): string {
  const cells = rows.map((r) => [r.name, r.value === null ? 'n/m' : `${Number.isInteger(r.value) ? r.value : r.value.toFixed(1)} ${r.unit}`, r.target, r.ratio ?? '', r.ok === null ? 'n/m' : r.ok ? 'ok' : 'NOT OK', r.note ?? '']);
  const headers = ['benchmark', 'value', 'target', 'ratio', 'result', 'note'];
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

/** What one timed command of `npm run bench` returns. */
export interface TimedRun {
  code: number;
  stderr: string;
  ms: number;
}

/**
 * The time of an arm's run, only when the command succeeded: a failed run (an exit status other
 * than 0) is an error, never a fast sample.
 */
export function checkedMs(arm: string, r: TimedRun): number {
  if (r.code !== 0) throw new Error(`${arm} exited with ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return r.ms;
}
