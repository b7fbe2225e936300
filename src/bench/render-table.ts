import type { CompareResult, MeasuredKind, MetricResult, Summary } from '../core/compare-result.js';
import { fmtValue, labelOf, orderOf } from './format.js';

const COLUMNS: MeasuredKind[] = ['native', 'container', 'vm', 'hybrid'];
const SHORT: Record<string, string> = { holds: 'holds', 'does-not-hold': 'does not hold', 'not-measurable': 'not measurable' };

/** "212 ms (190-260)": the median and the p10-p90 spread. */
export function cell(s: Summary | undefined, unit: string): string {
  if (!s) return '-';
  if (s.n <= 1) return fmtValue(s.median, unit);
  return `${fmtValue(s.median, unit)} (${fmtValue(s.p10, unit)}-${fmtValue(s.p90, unit)})`;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const sortedMetrics = (r: CompareResult): MetricResult[] => [...r.metrics].sort((a, b) => orderOf(a.id) - orderOf(b.id));

/** The terminal report: context, the table (median with p10-p90), claims and verdicts, footnotes. */
export function renderTable(r: CompareResult): string {
  const c = r.context;
  const measured = COLUMNS.filter((k) => k === 'native' || c.kinds?.[k]?.measured);
  const vmHeader = c.emulated ? `vm (${c.accelerator}, EMULATED)` : c.accelerator === 'kvm' ? 'vm (kvm)' : 'vm';
  const headers = ['metric', ...measured.map((k) => (k === 'vm' ? vmHeader : k === 'hybrid' && c.emulated ? 'hybrid (EMULATED)' : k)), 'claimed: VM', 'claimed: container', 'verdict VM', 'verdict container'];
  const notes: string[] = [];
  const note = (text: string): string => {
    let i = notes.indexOf(text);
    if (i < 0) i = notes.push(text) - 1;
    return `[${i + 1}]`;
  };
  const rows = sortedMetrics(r).map((m) => {
    const cells = measured.map((k) => {
      if (m.kinds[k]) return cell(m.kinds[k], m.unit);
      const why = m.notMeasured?.[k];
      return why ? `n/m ${note(`${labelOf(m.id)}, ${k}: ${why}`)}` : '-';
    });
    const v = (k: 'vm' | 'container') => {
      const s = m.verdictStatus?.[k];
      return s ? `${SHORT[s]} ${note(`${labelOf(m.id)}, ${k}: ${m.verdict?.[k] ?? ''}`)}` : '';
    };
    return [labelOf(m.id), ...cells, m.claim?.vm ?? '', m.claim?.container ?? '', v('vm'), v('container')];
  });
  const skipped = Object.entries(c.kinds ?? {}).filter(([, v]) => !v.measured).map(([k, v]) => `${k} not measured: ${v.reason ?? ''}`);
  const head = [
    `isola compare: ${c.image} on ${c.host.cpu}, ${c.host.cores} cores, ${(c.host.memoryBytes / 1024 ** 3).toFixed(0)} GiB, ${c.host.kernel}${c.virtualizedHost ? ' (itself a VM: nested virtualization)' : ''}`,
    `runtime ${c.runtime}${c.qemu ? `; QEMU ${c.qemu}` : ''}${c.guestKernel ? `; guest kernel ${c.guestKernel}` : ''}; accelerator ${c.accelerator}${c.emulated ? ' (VM figures are EMULATED: TCG, not KVM)' : ''}`,
    `${c.quick ? 'QUICK pass: ' : ''}${c.runs ?? '?'} counted runs per metric after ${c.warmup ?? '?'} warm-up, kinds alternated; cells: median (p10-p90)${c.durationMs ? `; took ${(c.durationMs / 1000).toFixed(0)} s` : ''}`,
    `claimed: the figures of the common VM-vs-container comparison (its performance table and density example; docs/CLAIMS.md); verdict: whether the claim holds on this host`,
    ...skipped,
  ];
  return `${head.join('\n')}\n\n${table(headers, rows)}\n\n${notes.map((n, i) => `[${i + 1}] ${n}`).join('\n')}\n`;
}
