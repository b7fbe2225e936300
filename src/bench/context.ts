import fs from 'node:fs';
import os from 'node:os';
import type { Capability, Kind } from '../core/types.js';
import type { CompareContext } from '../core/compare-result.js';

/** The facts every figure needs next to it: host CPU, cores, kernel, accelerator, versions. */
export function hostFacts(): { cpu: string; cores: number; memoryBytes: number; kernel: string; virtualized: boolean } {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  let virtualized = false;
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? cpu;
    virtualized = /^flags\s*:.*\bhypervisor\b/m.test(info);
  } catch {
    /* keep os.cpus() */
  }
  return { cpu, cores: os.cpus().length, memoryBytes: os.totalmem(), kernel: `${os.type()} ${os.release()}`, virtualized };
}

export function buildContext(image: string, probes: Map<Kind, Capability>, measured: Kind[], quick: boolean, startedAt: Date): CompareContext {
  const h = hostFacts();
  const vm = probes.get('vm');
  const accelDetail = vm?.details.accelerator;
  const accelerator: CompareContext['accelerator'] = vm?.ok && (accelDetail === 'kvm' || accelDetail === 'tcg') ? accelDetail : 'none';
  const runtime = Object.entries(probes.get('container')?.details ?? {}).find(([k, v]) => k.startsWith('runtime.') && v.startsWith('usable'));
  const kinds: NonNullable<CompareContext['kinds']> = { native: { measured: true, details: { how: 'the image\'s own binaries run on the host by chroot' } } };
  for (const [k, cap] of probes) {
    kinds[k] = { measured: measured.includes(k), ...(measured.includes(k) ? {} : { reason: cap.ok ? 'not requested' : (cap.reason ?? 'unavailable') }), details: cap.details };
  }
  return {
    host: { cpu: h.cpu, cores: h.cores, memoryBytes: h.memoryBytes, kernel: h.kernel },
    accelerator,
    emulated: accelerator === 'tcg' && measured.some((k) => k === 'vm' || k === 'hybrid'),
    runtime: runtime ? runtime[1].replace(/^usable \(|\)$/g, '') : 'none',
    ...(vm?.details.qemu ? { qemu: vm.details.qemu } : {}),
    ...(vm?.details.guestKernel ? { guestKernel: vm.details.guestKernel } : {}),
    image,
    startedAt: startedAt.toISOString(),
    quick,
    kinds,
    virtualizedHost: h.virtualized,
  };
}
