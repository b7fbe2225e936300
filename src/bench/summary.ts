import { JUDGED_KINDS, type CompareResult, type JudgedKind, type MeasuredKind, type MetricId, type MetricResult, type Section, type SectionSummary, type VmCostBreakdown } from '../core/compare-result.js';
import { fmtBytes, fmtValue } from './format.js';
import { REASON_WORDS, VERDICT_WORDS } from './verdict.js';
import { EXAMPLE_SERVER } from './example-server.js';

/**
 * What this host showed, section by section, in plain words: the sentences on top of the table
 * and of the HTML report. Pure: computed from the metrics and their verdicts only.
 */
const WHO: Record<MeasuredKind, string> = {
  native: 'natively',
  container: 'a container',
  vm: 'isola\'s microVM',
  hybrid: 'a container in a VM',
  'vm-os': 'the full-OS VM',
};

const find = (r: CompareResult, id: MetricId): MetricResult | undefined => r.metrics.find((m) => m.id === id);

function verdictWords(m: MetricResult, k: JudgedKind): string {
  const s = m.verdictStatus?.[k];
  if (!s) return '';
  if (s === 'not-comparable') return `not comparable here (${REASON_WORDS[m.verdictReason?.[k] ?? 'not-measured']})`;
  return VERDICT_WORDS[s];
}

/** "a container 95 ms (within the comparison's range, < 1 s)". */
function clause(r: CompareResult, m: MetricResult, k: MeasuredKind, unit = m.unit): string | null {
  const s = m.kinds[k];
  if (!s) return null;
  const emu = r.context.emulated && (k === 'vm' || k === 'vm-os' || k === 'hybrid') ? ', emulated' : '';
  const judged = (JUDGED_KINDS as readonly string[]).includes(k) ? verdictWords(m, k as JudgedKind) : '';
  const claim = (JUDGED_KINDS as readonly string[]).includes(k) ? m.claim?.[k as JudgedKind] : undefined;
  return `${WHO[k]} ${fmtValue(s.median, unit)} (n=${s.n}${emu})${judged ? `: ${judged}${claim ? ` (${claim})` : ''}` : ''}`;
}

function sentence(r: CompareResult, title: string, id: MetricId, kinds: MeasuredKind[] = ['container', 'vm', 'vm-os', 'hybrid']): string | null {
  const m = find(r, id);
  if (!m) return null;
  const parts = kinds.map((k) => clause(r, m, k)).filter((x): x is string => x !== null);
  return parts.length ? `${title}: ${parts.join('; ')}.` : null;
}

export function summarizeResult(r: CompareResult): SectionSummary[] {
  const out: SectionSummary[] = [];
  const add = (section: Section, text: string | null) => {
    if (text) out.push({ section, text });
  };
  add('startup', sentence(r, 'Startup to the first output', 'startup_first_output_ms'));
  const app = find(r, 'app_ready_ms');
  if (app && Object.keys(app.kinds).length) {
    const rps = find(r, 'app_rps');
    const p99 = find(r, 'app_latency_p99_ms');
    const mem = find(r, 'app_memory_bytes');
    const kinds = (['container', 'vm', 'vm-os', 'hybrid'] as MeasuredKind[]).filter((k) => app.kinds[k]);
    const per = kinds.map((k) => {
      const bits = [`answered after ${fmtValue(app.kinds[k]?.median ?? NaN, 'ms')}`];
      if (rps?.kinds[k]) bits.push(`${fmtValue(rps.kinds[k]?.median ?? NaN, 'req/s')}`);
      if (p99?.kinds[k]) bits.push(`p99 ${fmtValue(p99.kinds[k]?.median ?? NaN, 'ms')}`);
      if (mem?.kinds[k]) bits.push(`${fmtBytes(mem.kinds[k]?.median ?? NaN)} of host memory while serving`);
      const v = (JUDGED_KINDS as readonly string[]).includes(k) ? verdictWords(app, k as JudgedKind) : '';
      return `${WHO[k]} ${bits.join(', ')} (n=${app.kinds[k]?.n}${r.context.emulated && k !== 'container' ? ', emulated' : ''})${v ? `: startup ${v}` : ''}`;
    });
    add('app', `The application (${r.context.app?.image ?? r.context.image}): ${per.join('; ')}.`);
  }
  const cost = sentence(r, 'Memory per idle instance', 'memory_host_cost_bytes');
  const over = find(r, 'memory_overhead_bytes');
  const vmm = (['vm', 'vm-os'] as MeasuredKind[]).filter((k) => over?.kinds[k]).map((k) => `${fmtBytes(over?.kinds[k]?.median ?? NaN)} of it is QEMU's own for ${WHO[k]}`);
  add('memory', cost ? `${cost}${vmm.length ? ` ${vmm.join('; ')} (the virtualization; the rest is the guest's kernel, OS and workload).` : ''}` : null);
  const img = find(r, 'disk_image_bytes');
  const inst = find(r, 'disk_instance_bytes');
  if (img || inst) {
    const bits: string[] = [];
    if (img?.kinds.container) bits.push(`the image takes ${fmtBytes(img.kinds.container.median)} as a container uses it${img.verdictStatus?.container ? ` (${verdictWords(img, 'container')}, ${img.claim?.container})` : ''}`);
    for (const k of ['vm', 'vm-os'] as JudgedKind[]) {
      const root = find(r, 'disk_rootdisk_bytes')?.kinds[k];
      if (inst?.kinds[k]) bits.push(`${WHO[k]} ${fmtBytes((root?.median ?? 0) + inst.kinds[k].median)} with its disk${inst.verdictStatus?.[k] ? ` (${verdictWords(inst, k)}, ${inst.claim?.[k]})` : ''}`);
    }
    add('disk', bits.length ? `Disk: ${bits.join('; ')}.` : null);
  }
  add('cpu', sentence(r, 'CPU time against native', 'cpu_overhead_ratio', ['container', 'vm', 'hybrid']));
  add('network', sentence(r, 'Network round trip (p50)', 'net_rtt_p50_us', ['native', 'container', 'vm', 'hybrid']));
  const seq = sentence(r, 'Disk reads against native, sequential', 'io_seq_ratio', ['container', 'vm', 'hybrid']);
  const rand = sentence(r, 'random', 'io_rand_ratio', ['container', 'vm', 'hybrid']);
  add('io', seq ? `${seq}${rand ? ` ${rand[0]?.toUpperCase()}${rand.slice(1)}` : ''}` : null);
  const dens = find(r, 'density_marginal_bytes');
  if (dens && Object.keys(dens.kinds).length) {
    const per = (['container', 'vm', 'vm-os'] as JudgedKind[]).filter((k) => dens.kinds[k]).map((k) => {
      const e = (dens.extra?.[k] ?? {}) as { sizedOnExampleServer?: number; idleOnThisHost?: number; sizedOnThisHost?: number };
      const s = dens.kinds[k];
      const size = k === 'container' ? '512 MiB' : '4 GiB';
      const ex = Math.floor(EXAMPLE_SERVER.memoryBytes / ((k === 'container' ? EXAMPLE_SERVER.containerBytes : EXAMPLE_SERVER.vmBytes) + (s?.median ?? 0)));
      return `${WHO[k]} costs ${fmtBytes(s?.median ?? NaN)} more per instance (n=${s?.n}), so ${ex} of ${size} fit the example's 128 GiB (${verdictWords(dens, k)}, ${dens.claim?.[k]})${typeof e.idleOnThisHost === 'number' ? `; this host holds ${e.idleOnThisHost} idle ones, or ${e.sizedOnThisHost} of ${size}` : ''}`;
    });
    add('density', `Density: ${per.join('; ')}.`);
  }
  const art = find(r, 'portability_artifact_bytes');
  if (art && Object.keys(art.kinds).length) {
    const tr = find(r, 'portability_transfer_ms');
    const rc = find(r, 'portability_receive_start_ms');
    const per = (['container', 'vm', 'vm-os'] as JudgedKind[]).filter((k) => art.kinds[k]).map((k) => {
      const bits = [`ships ${fmtBytes(art.kinds[k]?.median ?? NaN)}`];
      if (tr?.kinds[k]) bits.push(`moved in ${fmtValue(tr.kinds[k]?.median ?? NaN, 'ms')}`);
      if (rc?.kinds[k]) bits.push(`received and answering in ${fmtValue(rc.kinds[k]?.median ?? NaN, 'ms')}`);
      const v = tr?.verdictStatus?.[k] ? `: transfer ${verdictWords(tr, k)}` : '';
      return `${WHO[k]} ${bits.join(', ')}${v}`;
    });
    add('portability', `Portability: ${per.join('; ')}.`);
  }
  return out;
}

const median = (r: CompareResult, id: MetricId, k: MeasuredKind): number | undefined => find(r, id)?.kinds[k]?.median;

/**
 * The startup split, computed: the share of the full OS's start that passes after its firmware
 * handed over (bootloader, kernel, initramfs, systemd: the OS inside), against the microVM's
 * whole start on the same QEMU (an upper bound of what the virtualization itself costs).
 */
export function whereStartupGoes(osMs: number, firmwareMs: number | undefined, microVmMs: number | undefined): string {
  if (firmwareMs === undefined || microVmMs === undefined || !(osMs > 0)) return 'Without both VMs\' milestones the difference cannot be split here.';
  const after = Math.max(0, osMs - firmwareMs);
  const share = Math.round((after / osMs) * 100);
  const side = after > microVmMs ? 'more of the difference is the OS inside than the virtualization' : 'the OS inside is not what makes the difference here';
  return `${share} % of the full OS's start (${fmtValue(after, 'ms')}) passes after its firmware handed over, in its bootloader, kernel and init system; isola's microVM, on the same QEMU with qboot, a direct kernel boot and one small init, starts its workload in ${fmtValue(microVmMs, 'ms')} in all, an upper bound of what the virtualization itself costs: ${side}.`;
}

/** Where the full-OS VM's cost comes from, against isola's microVM on the same QEMU. */
export function explainVmCost(r: CompareResult): VmCostBreakdown | undefined {
  const os = find(r, 'startup_first_output_ms')?.kinds['vm-os'];
  if (!os) return undefined;
  const ms = (x: number | undefined) => (x === undefined ? '?' : fmtValue(x, 'ms'));
  const ex = (find(r, 'startup_first_output_ms')?.extra?.['vm-os'] ?? {}) as { firmwareMs?: number; kernelMs?: number; initMs?: number };
  const startup = {
    ...(ex.firmwareMs !== undefined ? { firmwareMs: ex.firmwareMs } : {}),
    ...(ex.kernelMs !== undefined ? { kernelMs: ex.kernelMs } : {}),
    ...(ex.initMs !== undefined ? { initMs: ex.initMs } : {}),
    workloadMs: os.median,
    ...(median(r, 'app_ready_ms', 'vm-os') !== undefined ? { appMs: median(r, 'app_ready_ms', 'vm-os') } : {}),
    ...(median(r, 'startup_first_output_ms', 'vm') !== undefined ? { microVmWorkloadMs: median(r, 'startup_first_output_ms', 'vm') } : {}),
  };
  const osCost = median(r, 'memory_host_cost_bytes', 'vm-os');
  const osVmm = median(r, 'memory_overhead_bytes', 'vm-os');
  const mvCost = median(r, 'memory_host_cost_bytes', 'vm');
  const mvVmm = median(r, 'memory_overhead_bytes', 'vm');
  const memory = {
    ...(osVmm !== undefined ? { vmOsVmmBytes: osVmm } : {}),
    ...(osCost !== undefined && osVmm !== undefined ? { vmOsGuestBytes: Math.max(0, osCost - osVmm) } : {}),
    ...(mvVmm !== undefined ? { microVmVmmBytes: mvVmm } : {}),
    ...(mvCost !== undefined && mvVmm !== undefined ? { microVmGuestBytes: Math.max(0, mvCost - mvVmm) } : {}),
  };
  const osDisk = (median(r, 'disk_rootdisk_bytes', 'vm-os') ?? 0) + (median(r, 'disk_instance_bytes', 'vm-os') ?? 0);
  const mvRoot = median(r, 'disk_rootdisk_bytes', 'vm');
  const disk = { ...(osDisk ? { vmOsDiskBytes: osDisk } : {}), ...(mvRoot !== undefined ? { microVmRootBytes: mvRoot } : {}) };
  const text: string[] = [];
  const emu = r.context.emulated ? ' (both emulated here: TCG stretches every phase, the OS\'s most, as it runs the most guest code)' : '';
  const kernelToInit = startup.initMs !== undefined && startup.kernelMs !== undefined ? startup.initMs - startup.kernelMs : undefined;
  const noMicroVm = 'isola\'s microVM was not measured in this run (add vm to --kinds to compare them)';
  text.push(`Startup: the full-OS VM reached its workload after ${ms(startup.workloadMs)}, ${startup.microVmWorkloadMs !== undefined ? `isola's microVM after ${ms(startup.microVmWorkloadMs)}, on the same QEMU${emu}` : `${noMicroVm}${r.context.emulated ? ' (emulated here: TCG stretches every phase)' : ''}`}. `
    + `In the full OS, firmware (SeaBIOS) and QEMU's start took ${ms(startup.firmwareMs)}; the bootloader (syslinux) loading the kernel and initramfs until the kernel's first line ${startup.kernelMs !== undefined && startup.firmwareMs !== undefined ? ms(startup.kernelMs - startup.firmwareMs) : '?'}; `
    + `the kernel and the initramfs finding the root disk until systemd started ${ms(kernelToInit)}; systemd bringing up udev, D-Bus, journald, getty and the other units until the workload's service ${startup.initMs !== undefined ? ms(os.median - startup.initMs) : '?'}`
    + `${startup.appMs !== undefined ? `; the application then answered at ${ms(startup.appMs)}` : ''}. `
    + `${whereStartupGoes(os.median, startup.firmwareMs, startup.microVmWorkloadMs)}`);
  if (memory.vmOsVmmBytes !== undefined || memory.vmOsGuestBytes !== undefined) {
    text.push(`Memory per idle VM: the full OS costs the host ${fmtBytes((memory.vmOsVmmBytes ?? 0) + (memory.vmOsGuestBytes ?? 0))}: ${fmtBytes(memory.vmOsVmmBytes ?? NaN)} for QEMU itself (the virtualization${r.context.emulated ? '; under TCG this includes its translation cache' : ''}) and ${fmtBytes(memory.vmOsGuestBytes ?? NaN)} of guest pages its firmware, kernel, systemd and services touched. `
      + `${memory.microVmVmmBytes !== undefined && memory.microVmGuestBytes !== undefined ? `isola's microVM costs ${fmtBytes(memory.microVmVmmBytes + memory.microVmGuestBytes)}: ${fmtBytes(memory.microVmVmmBytes)} for QEMU and ${fmtBytes(memory.microVmGuestBytes)} of guest pages.` : `${noMicroVm}.`} The guest RAM a VM is given (the comparison's 4 GB) is only paid as the guest touches it.`);
  }
  if (disk.vmOsDiskBytes) {
    text.push(`Disk: the full-OS VM's disk holds a whole system (kernel, systemd, libraries, package database) besides the workload: ${fmtBytes(disk.vmOsDiskBytes)} allocated, ${disk.microVmRootBytes !== undefined ? `against ${fmtBytes(disk.microVmRootBytes)} for the microVM's root disk with the image alone (it boots a kernel shared by every VM)` : `while ${noMicroVm}`}. The comparison's 10-100 GB is a general-purpose install with room to grow; isola's disk is sparse, so free space costs nothing until written.`);
  }
  return { startup, memory, disk, text };
}
