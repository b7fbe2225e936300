/**
 * The guest kernel's command line, shared by the VM driver's launch plan and the benchmark's
 * bare QEMU launch, so the floor it measures boots exactly the same guest.
 */
export interface CmdlineOptions {
  machine: 'microvm' | 'q35';
  /** microvm with its PCIe bus on (the VM's virtio devices are there): no pci=off. */
  pcie?: boolean;
  accel: 'kvm' | 'tcg';
  /** TCG only: the host's TSC rate, which is the guest's under TCG. */
  tscKhz?: number;
  /**
   * Whose kernel boots: only isola's reads lapic_timer_hz= (its patch in src/guest/kernel/patches);
   * the cloud kernel and a --kernel of the user's calibrate.
   */
  guestKernel?: 'isola' | 'cloud' | 'custom';
  extraCmdline?: string[];
}

/**
 * The rate QEMU's emulated local APIC timer counts at under TCG: its counter runs on QEMU's
 * virtual clock in nanoseconds (hw/intel/apic.c), a 1 GHz bus. The kernel's own calibration
 * measured 1000.0001 MHz here (apic=verbose: "host bus clock speed").
 */
const QEMU_TCG_APIC_HZ = 1_000_000_000;

/**
 * quiet: every console byte is an emulated UART write, slow under TCG. pci=off on microvm without
 * its PCIe bus: there is no PCI bus to scan. mitigations=off nokaslr: the guest is one
 * workload in its own VM; these cost boot time under TCG.
 * tsc_early_khz + tsc=reliable under TCG: the emulated CPU's TSC is the host's, but calibrating
 * it against the emulated PIT fails when the host is busy, and the kernel then (about one boot
 * in eight here) hangs before init waiting for jiffies. Telling it the rate skips both.
 * lapic_timer_hz under TCG (isola's kernel): the kernel would otherwise time its local APIC
 * timer against 100 ms of jiffies before init, since TCG's CPU has no TSC-deadline timer and its
 * CPUID gives no crystal rate; a QEMU-sampled boot spent 120 ms of wall time there.
 */
export function kernelCmdline(plan: CmdlineOptions): string {
  const words = ['console=ttyS0', 'quiet', 'panic=-1', 'mitigations=off', 'nokaslr'];
  if (plan.machine === 'microvm' && !plan.pcie) words.push('pci=off');
  if (plan.accel === 'tcg' && plan.tscKhz) words.push(`tsc_early_khz=${plan.tscKhz}`, 'tsc=reliable');
  if (plan.accel === 'tcg' && plan.guestKernel === 'isola') words.push(`lapic_timer_hz=${QEMU_TCG_APIC_HZ}`);
  return [...words, ...(plan.extraCmdline ?? [])].join(' ');
}

/** The host's TSC rate in kHz from /proc/cpuinfo's "cpu MHz" (text passed in: pure). */
export function tscKhzFromCpuinfo(cpuinfo: string): number | undefined {
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}
