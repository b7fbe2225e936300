import { JUDGED_KINDS, type CompareResult, type JudgedKind, type MeasuredKind, type MetricResult, type Summary, type VerdictStatus } from '../core/compare-result.js';
import { COLUMNS, fmtValue, kindLabel, labelOf, orderOf } from './format.js';
import { REASON_WORDS } from './verdict.js';

/** The verdict words as a table cell. */
export const SHORT: Record<VerdictStatus, string> = { within: 'within', better: 'better', worse: 'worse', 'not-comparable': 'n/c' };

/**
 * Terminal colours by what the result means for the kind judged: green when it does better than
 * the comparison says, red when worse, blue when it is as the comparison says, grey when it
 * cannot be compared here. Never "the claim holds = green": a VM starting faster than claimed is
 * good news for the VM, and shown so.
 */
const ANSI: Record<VerdictStatus, string> = { better: '\x1b[32m', worse: '\x1b[31m', within: '\x1b[34m', 'not-comparable': '\x1b[90m' };

/** "212 ms (190-260) n=10": the median, the p10-p90 spread and the number of independent samples. */
export function cell(s: Summary | undefined, unit: string): string {
  if (!s) return '-';
  if (s.n <= 1) return `${fmtValue(s.median, unit)} n=${s.n}`;
  return `${fmtValue(s.median, unit)} (${fmtValue(s.p10, unit)}-${fmtValue(s.p90, unit)}) n=${s.n}`;
}

// Widths count what the eye sees: colour codes take no room.
// eslint-disable-next-line no-control-regex
const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length;

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(c)))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const sortedMetrics = (r: CompareResult): MetricResult[] => [...r.metrics].sort((a, b) => orderOf(a.id) - orderOf(b.id));

/** The kinds shown as columns: native, and every kind measured or tried (vm-os only when it was asked for). */
export function shownKinds(r: CompareResult): MeasuredKind[] {
  const c = r.context;
  return COLUMNS.filter((k) => k === 'native' || c.kinds?.[k]?.measured || (k === 'vm-os' && c.kinds?.[k] !== undefined && r.metrics.some((m) => m.kinds[k])));
}

/** The judged kinds that get a verdict column: those measured, or with a verdict in some row. */
export function judgedColumns(r: CompareResult): JudgedKind[] {
  return JUDGED_KINDS.filter((k) => r.context.kinds?.[k]?.measured || r.metrics.some((m) => m.verdictStatus?.[k] && m.kinds[k]));
}

export function kindHeader(r: CompareResult, k: MeasuredKind): string {
  const c = r.context;
  const vmish = k === 'vm' || k === 'hybrid' || k === 'vm-os';
  if (!vmish) return kindLabel(k);
  if (c.emulated) return `${kindLabel(k)} (${c.accelerator}, EMULATED)`;
  return c.accelerator === 'kvm' ? `${kindLabel(k)} (kvm)` : kindLabel(k);
}

/** The context lines every report starts with. */
export function contextLines(r: CompareResult): string[] {
  const c = r.context;
  const lines = [
    `isola compare: ${c.image} on ${c.host.cpu}, ${c.host.cores} cores, ${(c.host.memoryBytes / 1024 ** 3).toFixed(0)} GiB, ${c.host.kernel}${c.virtualizedHost ? ' (itself a VM: nested virtualization)' : ''}`,
    `runtime ${c.runtime}${c.qemu ? `; QEMU ${c.qemu}` : ''}${c.guestKernel ? `; guest kernel ${c.guestKernel}` : ''}; accelerator ${c.accelerator}${c.emulated ? ' (VM figures are EMULATED: TCG, not KVM)' : ''}`,
  ];
  const w: string[] = [];
  if (c.app) w.push(`the application ${c.app.image} (${c.app.probe === 'http' ? `HTTP :${c.app.port}${c.app.path ?? ''}` : `TCP :${c.app.port}`}${c.app.load ? `, ${c.app.load.tool} ${c.app.load.version}: ${c.app.load.threads} thread, ${c.app.load.connections} connections, ${c.app.load.durationS} s` : ''}; ${c.app.runs} instances per kind)`);
  if (c.probeImage) w.push(`the probes in ${c.probeImage} (${c.probesPerKind ?? 1} idle instances per kind)`);
  if (c.fullOs) w.push(`the full-OS VM: ${c.fullOs.os}${c.fullOs.kernel ? `, kernel ${c.fullOs.kernel}` : ''}, ${c.fullOs.memoryMiB} MiB, ${c.fullOs.firmware}; ${c.fullOs.runs} boots${c.fullOs.osBuildMs ? `; the OS was built once in this run (${(c.fullOs.osBuildMs / 1000).toFixed(0)} s)` : ''}`);
  if (c.ops) w.push(`operations: a compose service of ${c.ops.image}, ready when ${c.ops.ready}; ${Object.entries(c.ops.perKind).map(([k, p]) => `${k} ${p?.replicas ?? '?'} replicas x ${p?.runs ?? '?'} runs`).join(', ')}`);
  if (w.length) lines.push(`workloads: ${w.join('; ')}`);
  lines.push(`${c.quick ? 'QUICK pass: ' : ''}${c.runs ?? '?'} counted runs per probe metric after ${c.warmup ?? '?'} warm-up, ${c.ops ? 'kinds one after the other' : 'kinds alternated'}; cells: median (p10-p90) n=independent samples${c.durationMs ? `; took ${(c.durationMs / 1000).toFixed(0)} s` : ''}`);
  lines.push('claimed: the figures of the common VM-vs-container comparison (docs/CLAIMS.md); verdict: within its range, better than it says, worse than it says, or n/c (not comparable here, with the reason)');
  for (const [k, v] of Object.entries(c.kinds ?? {})) if (!v.measured) lines.push(`${k} not measured: ${v.reason ?? ''}`);
  return lines;
}

/** The terminal report: context, summary, the table (median with p10-p90 and n), claims and verdicts, the VM's cost, footnotes. */
export function renderTable(r: CompareResult, opts: { color?: boolean } = {}): string {
  const measured = shownKinds(r);
  const judged = judgedColumns(r);
  const headers = ['metric', ...measured.map((k) => kindHeader(r, k)), 'claimed: VM', 'claimed: container', ...judged.map((k) => `verdict: ${kindLabel(k)}`)];
  const notes: string[] = [];
  const note = (text: string): string => {
    let i = notes.indexOf(text);
    if (i < 0) i = notes.push(text) - 1;
    return `[${i + 1}]`;
  };
  const paint = (s: VerdictStatus, text: string) => (opts.color ? `${ANSI[s]}${text}\x1b[0m` : text);
  const rows = sortedMetrics(r).map((m) => {
    const cells = measured.map((k) => {
      if (m.kinds[k]) return cell(m.kinds[k], m.unit);
      const why = m.notMeasured?.[k];
      return why ? `n/m ${note(`${labelOf(m.id)}, ${kindLabel(k)}: ${why}`)}` : '-';
    });
    const v = (k: JudgedKind) => {
      const s = m.verdictStatus?.[k];
      if (!s) return '';
      const reason = s === 'not-comparable' && m.verdictReason?.[k] ? `: ${REASON_WORDS[m.verdictReason[k]]}` : '';
      return `${paint(s, `${SHORT[s]}${reason}`)} ${note(`${labelOf(m.id)}, ${kindLabel(k)}: ${m.verdict?.[k] ?? ''}`)}`;
    };
    return [labelOf(m.id), ...cells, m.claim?.vm ?? m.claim?.['vm-os'] ?? '', m.claim?.container ?? '', ...judged.map(v)];
  });
  const summary = (r.summary ?? []).map((s) => `  ${s.text}`);
  const cost = (r.vmCost?.text ?? []).map((t) => `  ${t}`);
  return [
    contextLines(r).join('\n'),
    ...(summary.length ? ['', 'What this host showed:', ...summary] : []),
    '',
    table(headers, rows),
    ...(cost.length ? ['', 'Where the full-OS VM\'s cost comes from (against isola\'s microVM, same QEMU):', ...cost] : []),
    '',
    notes.map((n, i) => `[${i + 1}] ${n}`).join('\n'),
    '',
  ].join('\n');
}
