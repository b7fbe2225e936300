import type { CompareResult, JudgedKind, MeasuredKind, MetricId, MetricResult, VerdictStatus } from '../core/compare-result.js';
import { CLAIMS } from './claims.js';
import { COLUMNS, fmtValue, kindLabel, labelOf } from './format.js';
import { cell, contextLines, judgedColumns, kindHeader, shownKinds, sortedMetrics } from './render-table.js';
import { REASON_WORDS, VERDICT_WORDS } from './verdict.js';

/**
 * The self-contained HTML report: no script, no network, one inline SVG chart per metric (each
 * raw sample as a dot, the p10-p90 band, the 95 % CI of the median and the median as a tick,
 * the common comparison's claimed range shaded where it is in the metric's unit; every chart
 * names its unit, each row its n, and the accelerator its VM rows ran on), the summary, the table,
 * where the full-OS VM's cost comes from, and the context. Opens from a file in any browser.
 */
const COLOR: Record<MeasuredKind, string> = { native: '#555', container: '#1f77b4', vm: '#d62728', hybrid: '#9467bd', 'vm-os': '#8c564b' };

/** Verdict colours by what the result means for the kind judged (see render-table.ts). */
export const VERDICT_COLOR: Record<VerdictStatus, string> = { better: '#17692a', worse: '#b00020', within: '#1f4e99', 'not-comparable': '#666' };

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const UNIT_NAMES: Record<string, string> = { ms: 'milliseconds', us: 'microseconds', bytes: 'bytes', ratio: 'ratio to native (1.00 = native)', 'req/s': 'requests per second' };

/** Metrics timed from the create call: always on a log scale, with both claimed bands shown. */
const STARTUP: readonly MetricId[] = ['startup_ready_ms', 'startup_init_ms', 'startup_first_output_ms', 'startup_parallel_ms', 'app_ready_ms'];
const START_CLAIMS = CLAIMS.startup_first_output_ms;

/** Claimed ranges that are in the metric's own unit, for shading; startup rows get the startup claim's bands. */
function claimBands(m: MetricResult): { kind: 'vm' | 'container'; lo: number; hi: number; text: string }[] {
  const out: { kind: 'vm' | 'container'; lo: number; hi: number; text: string }[] = [];
  const claims = STARTUP.includes(m.id) ? START_CLAIMS : CLAIMS[m.id];
  for (const kind of ['vm', 'container'] as const) {
    const c = claims?.[kind];
    if (!c || (c.derive && c.derive !== 'overhead-percent')) continue;
    const conv = (x: number) => (c.derive === 'overhead-percent' ? 1 + x / 100 : x);
    if (c.shape.type === 'range') out.push({ kind, lo: conv(c.shape.lo), hi: conv(c.shape.hi), text: c.text });
    if (c.shape.type === 'below') out.push({ kind, lo: 0, hi: conv(c.shape.hi), text: c.text });
  }
  return out;
}

export function chartSvg(m: MetricResult, ctx: { emulated: boolean; accelerator: string }): string {
  const kinds = COLUMNS.filter((k) => m.kinds[k]);
  if (kinds.length === 0) return '';
  const W = 760;
  const left = 190;
  const right = 20;
  const rowH = 34;
  const top = 30;
  const H = top + rowH * kinds.length + 48;
  const values = kinds.flatMap((k) => [...(m.kinds[k]?.samples ?? []), m.kinds[k]?.ci95[0] ?? 0, m.kinds[k]?.ci95[1] ?? 0]).filter((v) => Number.isFinite(v));
  const bands = claimBands(m);
  const startup = STARTUP.includes(m.id);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  // Startup: both claimed bands always (the comparison's 30 s - 5 min must be visible next to
  // 100 ms dots); elsewhere a band only when it is near the data.
  const shown = startup ? bands : bands.filter((b) => b.hi >= lo / 10 && b.lo <= hi * 10);
  for (const b of shown) {
    lo = Math.min(lo, b.lo > 0 ? b.lo : lo);
    hi = Math.max(hi, b.hi);
  }
  const positive = lo > 0;
  const log = positive && (startup || hi / lo > 30);
  if (log) {
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
  } else lo = Math.min(0, lo);
  if (hi === lo) hi = lo + 1;
  const span = log ? Math.log10(hi) - Math.log10(lo) : hi - lo;
  const x = (v: number): number => {
    const vv = log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span : (v - lo) / span;
    return left + vv * (W - left - right);
  };
  const parts: string[] = [];
  const vmRows = kinds.some((k) => k === 'vm' || k === 'hybrid' || k === 'vm-os');
  const accel = vmRows ? `; VM rows: ${ctx.emulated ? `${ctx.accelerator.toUpperCase()} (emulated, not KVM)` : ctx.accelerator}` : '';
  parts.push(`<text class="caption" x="${left}" y="16" font-size="12" fill="#333">${esc(`${labelOf(m.id)}, in ${UNIT_NAMES[m.unit] ?? m.unit}${log ? ' (log scale)' : ''}${accel}`)}</text>`);
  for (const b of shown) {
    const x0 = x(Math.max(b.lo, lo));
    const x1 = x(Math.min(b.hi, hi));
    parts.push(`<rect class="claim" x="${x0.toFixed(1)}" y="${top}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${rowH * kinds.length}" fill="${b.kind === 'vm' ? COLOR.vm : COLOR.container}" opacity="0.10"><title>claimed for ${b.kind === 'vm' ? 'VMs' : 'containers'}: ${esc(b.text)}</title></rect>`);
    parts.push(`<text x="${((x0 + x1) / 2).toFixed(1)}" y="${top + rowH * kinds.length - 4}" text-anchor="middle" font-size="10" fill="${b.kind === 'vm' ? COLOR.vm : COLOR.container}">claimed ${b.kind === 'vm' ? 'VM' : 'container'}: ${esc(b.text)}</text>`);
  }
  kinds.forEach((k, i) => {
    const s = m.kinds[k];
    if (!s) return;
    const y = top + i * rowH + rowH / 2;
    const label = `${kindLabel(k)}${(k === 'vm' || k === 'hybrid' || k === 'vm-os') && ctx.emulated ? ' (TCG)' : ''} n=${s.n}`;
    parts.push(`<text class="row" x="${left - 8}" y="${y + 4}" text-anchor="end" font-size="12">${esc(label)}</text>`);
    parts.push(`<line x1="${x(s.p10).toFixed(1)}" x2="${x(s.p90).toFixed(1)}" y1="${y}" y2="${y}" stroke="${COLOR[k]}" stroke-width="8" opacity="0.25"><title>p10-p90 ${esc(fmtValue(s.p10, m.unit))} - ${esc(fmtValue(s.p90, m.unit))}</title></line>`);
    parts.push(`<line x1="${x(s.ci95[0]).toFixed(1)}" x2="${x(s.ci95[1]).toFixed(1)}" y1="${y + 9}" y2="${y + 9}" stroke="${COLOR[k]}" stroke-width="2"><title>95 % CI of the median</title></line>`);
    s.samples.forEach((v, j) => {
      const jitter = ((j * 7) % 11) - 5;
      parts.push(`<circle class="sample" cx="${x(v).toFixed(1)}" cy="${(y + jitter * 0.8).toFixed(1)}" r="2.5" fill="${COLOR[k]}" opacity="0.7"><title>${esc(fmtValue(v, m.unit))}</title></circle>`);
    });
    parts.push(`<line class="median" x1="${x(s.median).toFixed(1)}" x2="${x(s.median).toFixed(1)}" y1="${y - 11}" y2="${y + 11}" stroke="#000" stroke-width="2"><title>median ${esc(fmtValue(s.median, m.unit))} (n=${s.n})</title></line>`);
  });
  const axisY = top + rowH * kinds.length + 4;
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${axisY}" y2="${axisY}" stroke="#999"/>`);
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(hi) - Math.log10(lo)) + 1 }, (_, i) => lo * 10 ** i)
    : Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4);
  for (const t of ticks) parts.push(`<text class="tick" x="${x(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" font-size="11" fill="#555">${esc(fmtValue(t, m.unit))}</text>`);
  parts.push(`<text class="unit" x="${W - right}" y="${axisY + 32}" text-anchor="end" font-size="10" fill="#777">${esc(`${UNIT_NAMES[m.unit] ?? m.unit}${log ? ', log scale' : ''}`)}</text>`);
  return `<svg class="chart" data-metric="${m.id}" data-scale="${log ? 'log' : 'linear'}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(labelOf(m.id))}">${parts.join('')}</svg>`;
}

function verdictCell(m: MetricResult, k: JudgedKind): string {
  const s = m.verdictStatus?.[k];
  if (!s) return '<td></td>';
  const reason = s === 'not-comparable' && m.verdictReason?.[k] ? ` (${REASON_WORDS[m.verdictReason[k]]})` : '';
  return `<td class="verdict ${s}" title="${esc(m.verdict?.[k] ?? '')}">${esc(`${VERDICT_WORDS[s]}${reason}`)}</td>`;
}

export function renderHtml(r: CompareResult): string {
  const c = r.context;
  const metrics = sortedMetrics(r);
  const cols = shownKinds(r);
  const judged = judgedColumns(r);
  const rows = metrics.map((m) => `<tr data-metric="${m.id}"><td>${esc(labelOf(m.id))}</td>${cols.map((k) => `<td data-kind="${k}">${esc(m.kinds[k] ? cell(m.kinds[k], m.unit) : m.notMeasured?.[k] ? 'not measured' : '-')}</td>`).join('')}<td>${esc(m.claim?.vm ?? m.claim?.['vm-os'] ?? '')}</td><td>${esc(m.claim?.container ?? '')}</td>${judged.map((k) => verdictCell(m, k)).join('')}</tr>`).join('\n');
  const sections = metrics.map((m) => {
    const nm = Object.entries(m.notMeasured ?? {}).map(([k, why]) => `<li>${esc(kindLabel(k as MeasuredKind))} not measured: ${esc(why)}</li>`).join('');
    const notes = [...(m.sample ? [`one sample = ${m.sample}; n counts them`] : []), ...(m.notes ?? [])].map((n) => `<li>${esc(n)}</li>`).join('');
    const verdicts = judged.filter((k) => m.verdict?.[k]).map((k) => `<li class="verdict ${m.verdictStatus?.[k] ?? ''}"><b>${esc(kindLabel(k))}</b> (claimed: ${esc(m.claim?.[k] ?? '')}): ${esc(m.verdict?.[k] ?? '')}</li>`).join('');
    return `<section id="${m.id}"><h2>${esc(labelOf(m.id))} <small>${esc(m.id)}, ${esc(UNIT_NAMES[m.unit] ?? m.unit)}</small></h2>${chartSvg(m, c)}<ul class="verdicts">${verdicts}</ul><ul class="notes">${notes}${nm}</ul></section>`;
  }).join('\n');
  const kindsInfo = Object.entries(c.kinds ?? {}).map(([k, v]) => `<li><b>${esc(kindLabel(k as MeasuredKind))}</b>: ${v.measured ? 'measured' : `not measured: ${esc(v.reason ?? '')}`}${v.details ? ` <small>${esc(Object.entries(v.details).map(([a, b]) => `${a}=${b}`).join('; '))}</small>` : ''}</li>`).join('');
  const summary = (r.summary ?? []).map((s) => `<li data-section="${s.section}">${esc(s.text)}</li>`).join('');
  const cost = (r.vmCost?.text ?? []).map((t) => `<p>${esc(t)}</p>`).join('');
  const legend = (['better', 'within', 'worse', 'not-comparable'] as VerdictStatus[]).map((s) => `<span class="verdict ${s}">${esc(VERDICT_WORDS[s])}</span>`).join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>isola compare: ${esc(c.image)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top}
th{background:#f4f4f4}
.verdict.better{color:${VERDICT_COLOR.better}}.verdict.worse{color:${VERDICT_COLOR.worse}}.verdict.within{color:${VERDICT_COLOR.within}}.verdict.not-comparable{color:${VERDICT_COLOR['not-comparable']}}
td.verdict{font-weight:600}
.emulated{background:#fff3cd;padding:.5em;border:1px solid #e0c060}section{margin-top:2em}small{color:#666;font-weight:normal}
.summary li{margin:.3em 0}.context{color:#444}
</style></head><body>
<h1>isola compare: ${esc(c.image)}</h1>
<p class="context">${contextLines(r).map(esc).join('<br>')}</p>
${c.emulated ? '<p class="emulated">VM figures were measured under <b>TCG (emulated)</b>, not KVM. A TCG figure can show that a VM does better than a claimed cost (KVM would do at least as well) but cannot confirm a KVM claim, nor show that KVM does worse.</p>' : ''}
<h2>What this host showed</h2>
<ul class="summary">${summary}</ul>
<p>Claimed: the figures of the common VM-vs-container comparison (its performance table, density example and portability comparison); docs/CLAIMS.md lists each claim and where it comes from. Verdicts, coloured by what they mean for the kind judged: ${legend}.</p>
<ul>${kindsInfo}</ul>
<table class="metrics"><tr><th>metric</th>${cols.map((k) => `<th data-kind="${k}">${esc(kindHeader(r, k))}</th>`).join('')}<th>claimed: VM</th><th>claimed: container</th>${judged.map((k) => `<th>verdict: ${esc(kindLabel(k))}</th>`).join('')}</tr>
${rows}</table>
<p><small>Cells: median (p10-p90) and n, the number of independent samples (instances or launches, as each section says). Charts: dots are the raw samples, the pale bar p10-p90, the thin bar the 95 % bootstrap CI of the median, the black tick the median; a shaded band is the claimed range where it is in the chart's unit. Startup charts are on a log scale with both claimed bands.</small></p>
${cost ? `<section id="vm-cost"><h2>Where the full-OS VM's cost comes from</h2>${cost}</section>` : ''}
${sections}
</body></html>
`;
}
