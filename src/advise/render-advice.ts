import { formatBytes } from '../core/units.js';
import type { AdviseReport, MeasuredCost } from './advise-report.js';
import type { Change } from './advise.js';
import type { Recommendation } from './decide.js';
import type { MeasuredFigure } from './measured.js';

export const RECOMMENDATION_MEANS: Record<Recommendation, string> = {
  container: 'a plain container',
  'hardened-container': 'a hardened container (gVisor, or strict seccomp with SELinux/AppArmor)',
  vm: 'a virtual machine',
  hybrid: 'containers inside per-tenant or per-compliance-zone VMs',
};

const FIELD_NAMES: Record<string, string> = { memoryBytes: 'memory' };

function answer(c: Change): string {
  const v = c.field === 'memoryBytes' ? formatBytes(c.value as number) : JSON.stringify(c.value);
  return `${FIELD_NAMES[c.field] ?? c.field} ${v}`;
}

export function formatFigure(f: MeasuredFigure): string {
  if (f.median === undefined) return `${f.label}: not measured (${f.notMeasured})`;
  if (f.metric.endsWith('_bytes')) return `${f.label} ${formatBytes(f.median)}`;
  if (f.metric.endsWith('_ratio')) return `${f.label} ${f.median.toFixed(2)}×`;
  if (f.metric.endsWith('_ms')) return `${f.label} ${f.median >= 1000 ? `${(f.median / 1000).toFixed(2)} s` : `${f.median.toFixed(0)} ms`}`;
  return `${f.label} ${f.median} ${f.unit}`;
}

/** Measured figures first, then the ones the file lacks, once, so a sparse file stays readable. */
function figures(list: MeasuredFigure[]): string {
  const shown = list.filter((f) => f.median !== undefined).map(formatFigure);
  const missing = list.filter((f) => f.median === undefined).map((f) => `${f.label} (${f.notMeasured})`);
  return [...shown, ...(missing.length ? [`not measured: ${missing.join(', ')}`] : [])].join('; ');
}

function measuredLines(m: MeasuredCost): string[] {
  const lines = [`  measured cost as ${m.kind} on this host: ${figures(m.figures)}`];
  if (m.baseline) lines.push(`    (a plain container there: ${figures(m.baseline)})`);
  if (m.note) lines.push(`    note: ${m.note}`);
  return lines;
}

export function renderAdviceText(report: AdviseReport): string {
  const out: string[] = [];
  if (report.measured) {
    const m = report.measured;
    out.push(`measured figures: ${m.file}, from ${m.accelerator} on ${m.host}`);
    if (m.emulated) out.push('warning: VM figures were measured under emulation (TCG); with KVM, VMs start and run much faster');
    out.push('');
  }
  for (const a of report.workloads) {
    out.push(`${a.workload}: ${a.recommendation}: ${RECOMMENDATION_MEANS[a.recommendation]}`);
    out.push(`  container fit: ${a.fit}    certainty: ${a.certainty}`);
    if (a.reasons.length) {
      out.push('  because:');
      for (const r of a.reasons) out.push(`    ${r.rule}: ${r.says} (the common comparison, ${r.section}: "${r.quote}")`);
    } else {
      out.push('  because: no rule fired; nothing given argues against a container');
    }
    out.push(`  blockers: ${a.blockers.length ? a.blockers.map((b) => `${b.rule}: ${b.says}`).join('; ') : 'none'}`);
    if (a.missing.length) {
      out.push('  missing answers:');
      for (const m of a.missing) {
        const effect = m.changes.length
          ? m.changes.map((c) => `if ${answer(c)}: ${c.recommendation}`).join(', ')
          : 'would not change the answer';
        out.push(`    ${FIELD_NAMES[m.field] ?? m.field} (read by ${m.rules.join(', ')}): ${effect}`);
      }
    }
    if (a.wouldChange.length) {
      out.push('  what would change the answer:');
      for (const c of a.wouldChange) out.push(`    if ${answer(c)}: ${c.recommendation} (container fit ${c.fit})`);
    }
    if (a.measuredCost) out.push(...measuredLines(a.measuredCost));
    out.push('');
  }
  return out.join('\n');
}
