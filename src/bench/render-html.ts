import type { CompareResult, MeasuredKind, MetricResult } from '../core/compare-result.js';
import { CLAIMS } from './claims.js';
import { fmtValue, labelOf } from './format.js';
import { cell, sortedMetrics } from './render-table.js';

/**
 * The self-contained HTML report: no script, no network, one inline SVG chart per metric (each
 * raw sample as a dot, the p10-p90 band, the 95 % CI of the median and the median as a tick,
 * the common comparison's claimed range shaded where it is in the metric's unit), the table, and the
 * context. Opens from a file in any browser.
 */
const KINDS: MeasuredKind[] = ['native', 'container', 'vm', 'hybrid'];
const COLOR: Record<MeasuredKind, string> = { native: '#555', container: '#1f77b4', vm: '#d62728', hybrid: '#9467bd' };

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Claimed ranges that are in the metric's own unit, for shading. */
function claimBands(m: MetricResult): { kind: 'vm' | 'container'; lo: number; hi: number }[] {
  const out: { kind: 'vm' | 'container'; lo: number; hi: number }[] = [];
  for (const kind of ['vm', 'container'] as const) {
    const c = CLAIMS[m.id]?.[kind];
    if (!c || (c.derive && c.derive !== 'overhead-percent')) continue;
    const conv = (x: number) => (c.derive === 'overhead-percent' ? 1 + x / 100 : x);
    if (c.shape.type === 'range') out.push({ kind, lo: conv(c.shape.lo), hi: conv(c.shape.hi) });
    if (c.shape.type === 'below') out.push({ kind, lo: 0, hi: conv(c.shape.hi) });
  }
  return out;
}

export function chartSvg(m: MetricResult, emulated: boolean): string {
  const kinds = KINDS.filter((k) => m.kinds[k]);
  if (kinds.length === 0) return '';
  const W = 720;
  const left = 150;
  const right = 20;
  const rowH = 34;
  const top = 10;
  const H = top + rowH * kinds.length + 34;
  const values = kinds.flatMap((k) => [...(m.kinds[k]?.samples ?? []), m.kinds[k]?.ci95[0] ?? 0, m.kinds[k]?.ci95[1] ?? 0]).filter((v) => Number.isFinite(v));
  const bands = claimBands(m);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  // Show a claimed band only when it is near the data: a 30 s claim must not squash 200 ms dots.
  const shown = bands.filter((b) => b.hi >= lo / 10 && b.lo <= hi * 10);
  for (const b of shown) {
    lo = Math.min(lo, b.lo);
    hi = Math.max(hi, b.hi);
  }
  const positive = lo > 0;
  const log = positive && hi / lo > 30;
  if (!log) lo = Math.min(0, lo);
  if (hi === lo) hi = lo + 1;
  const span = log ? Math.log10(hi) - Math.log10(lo) : hi - lo;
  const x = (v: number): number => {
    const vv = log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span : (v - lo) / span;
    return left + vv * (W - left - right);
  };
  const parts: string[] = [];
  for (const b of shown) {
    const x0 = x(Math.max(b.lo, lo));
    const x1 = x(Math.min(b.hi, hi));
    parts.push(`<rect class="claim" x="${x0.toFixed(1)}" y="${top}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${rowH * kinds.length}" fill="${COLOR[b.kind]}" opacity="0.08"><title>claimed for ${b.kind}: ${esc(m.claim?.[b.kind] ?? '')}</title></rect>`);
  }
  kinds.forEach((k, i) => {
    const s = m.kinds[k];
    if (!s) return;
    const y = top + i * rowH + rowH / 2;
    const label = k === 'vm' && emulated ? 'vm (TCG, emulated)' : k;
    parts.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end" font-size="12">${esc(label)}</text>`);
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
    ? Array.from({ length: Math.floor(Math.log10(hi)) - Math.ceil(Math.log10(lo)) + 1 }, (_, i) => 10 ** (Math.ceil(Math.log10(lo)) + i))
    : Array.from({ length: 5 }, (_, i) => lo + ((hi - lo) * i) / 4);
  for (const t of ticks) parts.push(`<text x="${x(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" font-size="11" fill="#555">${esc(fmtValue(t, m.unit))}</text>`);
  if (log) parts.push(`<text x="${W - right}" y="${axisY + 30}" text-anchor="end" font-size="10" fill="#777">log scale</text>`);
  return `<svg class="chart" data-metric="${m.id}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 10}" viewBox="0 0 ${W} ${H + 10}" role="img" aria-label="${esc(labelOf(m.id))}">${parts.join('')}</svg>`;
}

export function renderHtml(r: CompareResult): string {
  const c = r.context;
  const metrics = sortedMetrics(r);
  const cols = KINDS.filter((k) => k === 'native' || c.kinds?.[k]?.measured);
  const rows = metrics.map((m) => `<tr><td>${esc(labelOf(m.id))}</td>${cols.map((k) => `<td>${esc(m.kinds[k] ? cell(m.kinds[k], m.unit) : m.notMeasured?.[k] ? 'not measured' : '-')}</td>`).join('')}<td>${esc(m.claim?.vm ?? '')}</td><td>${esc(m.claim?.container ?? '')}</td><td class="${m.verdictStatus?.vm ?? ''}">${esc(m.verdict?.vm ?? '')}</td><td class="${m.verdictStatus?.container ?? ''}">${esc(m.verdict?.container ?? '')}</td></tr>`).join('\n');
  const sections = metrics.map((m) => {
    const nm = Object.entries(m.notMeasured ?? {}).map(([k, why]) => `<li>${esc(k)} not measured: ${esc(why)}</li>`).join('');
    const notes = (m.notes ?? []).map((n) => `<li>${esc(n)}</li>`).join('');
    const verdicts = (['vm', 'container'] as const).filter((k) => m.verdict?.[k]).map((k) => `<li class="${m.verdictStatus?.[k] ?? ''}"><b>${k}</b> (claimed: ${esc(m.claim?.[k] ?? '')}): ${esc(m.verdict?.[k] ?? '')}</li>`).join('');
    return `<section id="${m.id}"><h2>${esc(labelOf(m.id))} <small>${esc(m.id)}, ${esc(m.unit)}</small></h2>${chartSvg(m, c.emulated)}<ul class="verdicts">${verdicts}</ul><ul class="notes">${notes}${nm}</ul></section>`;
  }).join('\n');
  const kindsInfo = Object.entries(c.kinds ?? {}).map(([k, v]) => `<li><b>${esc(k)}</b>: ${v.measured ? 'measured' : `not measured: ${esc(v.reason ?? '')}`}${v.details ? ` <small>${esc(Object.entries(v.details).map(([a, b]) => `${a}=${b}`).join('; '))}</small>` : ''}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>isola compare: ${esc(c.image)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:4px 6px;vertical-align:top}
th{background:#f4f4f4}.holds{color:#17692a}.does-not-hold{color:#a11}.not-measurable{color:#8a6d00}
.emulated{background:#fff3cd;padding:.5em;border:1px solid #e0c060}section{margin-top:2em}small{color:#666;font-weight:normal}
</style></head><body>
<h1>isola compare: ${esc(c.image)}</h1>
<p>${esc(c.host.cpu)}, ${c.host.cores} cores, ${(c.host.memoryBytes / 1024 ** 3).toFixed(1)} GiB RAM, ${esc(c.host.kernel)}${c.virtualizedHost ? ' (the host is itself a VM: nested virtualization)' : ''}.
Runtime ${esc(c.runtime)}${c.qemu ? `, QEMU ${esc(c.qemu)}` : ''}${c.guestKernel ? `, guest kernel ${esc(c.guestKernel)}` : ''}. Started ${esc(c.startedAt)}${c.durationMs ? `, took ${(c.durationMs / 1000).toFixed(0)} s` : ''}.
${c.quick ? '<b>Quick pass</b>: few runs, wide intervals. ' : ''}${c.runs ?? '?'} counted runs per metric after ${c.warmup ?? '?'} warm-up, kinds alternated. Cells: median (p10-p90).</p>
${c.emulated ? `<p class="emulated">VM figures were measured under <b>TCG (emulated)</b>, not KVM. A TCG figure can show that a claim about VM cost overstates it (KVM would do at least as well) but cannot confirm a KVM claim.</p>` : ''}
<p>Claimed: the figures of the common VM-vs-container comparison (its performance table and density example); docs/CLAIMS.md lists each claim and where it comes from. Verdict: whether the claim holds on this host.</p>
<ul>${kindsInfo}</ul>
<table><tr><th>metric</th>${cols.map((k) => `<th>${k}${k === 'vm' && c.emulated ? ' (TCG, emulated)' : ''}</th>`).join('')}<th>claimed: VM</th><th>claimed: container</th><th>verdict VM</th><th>verdict container</th></tr>
${rows}</table>
<p><small>Charts: dots are the raw samples, the pale bar p10-p90, the thin bar the 95 % bootstrap CI of the median, the black tick the median; a shaded band is the claimed range where it is in the chart's unit.</small></p>
${sections}
</body></html>
`;
}
