import { formatBytes } from '../core/units.js';
import type { DensityRow } from './density.js';
import type { Placement, PlanReport } from './plan.js';

const money = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });
const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
const fmtNum = (x: number) => (Number.isInteger(x) ? String(x) : Number(x.toFixed(4)).toString());

/** First few names and a count, so a 10,000-workload inventory does not print 10,000 names. */
function names(list: string[], max = 5): string {
  return list.length <= max ? list.join(', ') : `${list.slice(0, max).join(', ')} and ${list.length - max} more`;
}

function densityLines(row: DensityRow): string[] {
  const size = `${row.kind} ${formatBytes(row.memoryBytes)}${row.cpus !== undefined ? ` / ${row.cpus} CPU` : ''}`;
  const out = [`  ${size}: ${row.count} per host, ${row.binds} binds`];
  for (const line of row.arithmetic) out.push(`      ${line}`);
  if (row.cpuBindsAboveCores !== undefined) {
    out.push(`      cpu: not given by the comparison's example; CPU would bind first above ${row.cpuBindsAboveCores.toFixed(3)} cores per instance`);
  }
  if (row.claim) {
    out.push(`      claimed (${row.claim.rule}, 128GB / 32 cores): "${row.claim.quote}": ${row.count} is ${row.claim.verdict} ${row.claim.low}-${row.claim.high}`);
  }
  return out;
}

function placementLine(p: Placement): string {
  const kinds = `${p.instances.container} containers, ${p.instances.vm} VMs, ${p.instances.hybrid} sandboxed pods`;
  if (p.hosts === null) return `  ${p.strategy.padEnd(13)} does not fit this host type: ${names(p.doesNotFit)}`;
  const kept = p.keptAsVm ? ` (${p.keptAsVm} kept as VMs: NO_FIT for containers)` : '';
  const shortfall = p.shortfall ? `; ${p.shortfall} more hosts than available` : '';
  return `  ${p.strategy.padEnd(13)} ${String(p.hosts).padStart(6)} hosts (lower bound ${p.lowerBound}; memory ${pct(p.utilization?.memory ?? 0)}, CPU ${pct(p.utilization?.cpu ?? 0)} used)  ${kinds}${kept}${shortfall}`;
}

export function renderPlanText(r: PlanReport): string {
  const out: string[] = [];
  const w = r.workloads;
  out.push(`workloads: ${w.total}; placed ${w.placed} (${w.instances} instances)`);
  if (w.unsized.length) out.push(`  not placed, size not given: ${names(w.unsized.map((u) => `${u.name} (no ${u.missing.join(', ')})`))}`);
  if (w.replicasNotGiven.length) out.push(`  replicas not given, counted as 1: ${names(w.replicasNotGiven)}`);
  if (w.fitUnknown.length) out.push(`  container fit UNKNOWN (os or fullOsAccess not given), placed as containers in all-container: ${names(w.fitUnknown)}`);

  out.push('', 'assumptions (override with --assume key=value or assumptions: in the file):');
  for (const a of r.assumptions) out.push(`  ${a.key} = ${fmtNum(a.value)} ${a.unit}  [${a.origin === 'default' ? a.provenance : a.origin}] ${a.source}`);

  for (const h of r.hostTypes) {
    out.push('', `host ${h.host.name}: ${formatBytes(h.host.memoryBytes)}, ${h.host.cores} cores; price ${money(h.price)} (${h.priceSource})`);
    out.push(`  reserved: ${formatBytes(h.reservedBytes)} memory, ${fmtNum(h.reservedCores)} cores (${h.reservedSource})`);
    out.push(`  schedulable: ${formatBytes(h.memoryBytes)} memory (overcommit ${h.memoryOvercommit}), ${h.millicores / 1000} cores (overcommit ${h.cpuOvercommit})`);
    const density = r.density.find((d) => d.hostType === h.host.name);
    if (density) {
      out.push('', 'density, the common comparison\'s example ("On a server with 128GB RAM and 32 CPU cores"):');
      for (const row of density.comparisonExample) out.push(...densityLines(row));
      if (density.sizes.length) {
        out.push('', 'density, the most common sizes in this inventory:');
        for (const row of density.sizes) out.push(...densityLines(row));
      }
    }
    const placements = r.placements.filter((p) => p.hostType === h.host.name);
    const methods = [...new Set(placements.map((p) => p.method).filter(Boolean))];
    out.push('', `placement (bin packing on memory and CPU: ${methods.join('; ') || 'nothing to place'}):`);
    for (const p of placements) out.push(placementLine(p));
    out.push('', 'cost per year:');
    for (const p of placements) {
      if (!p.cost) continue;
      out.push(`  ${p.strategy.padEnd(13)} ${money(p.cost.totalPerYear).padStart(12)}`);
      for (const l of p.cost.lines) out.push(`      ${l.item.padEnd(10)} ${money(l.perYear).padStart(12)}  = ${l.arithmetic}  (${l.rule})`);
    }
    const vm = placements.find((p) => p.strategy === 'all-vm')?.cost?.totalPerYear;
    for (const p of placements) {
      if (p.strategy === 'all-vm' || !p.cost || vm === undefined) continue;
      const diff = p.cost.totalPerYear - vm;
      out.push(`  ${p.strategy} vs all-vm: ${diff <= 0 ? 'saves' : 'costs'} ${money(Math.abs(diff))} per year`);
    }
  }
  return `${out.join('\n')}\n`;
}
