import type { Accel } from './accel.js';
import { kernelCmdline } from '../../guest/cmdline.js';

export { kernelCmdline, tscKhzFromCpuinfo } from '../../guest/cmdline.js';

/**
 * QEMU's command line for one isola VM. Pure: everything comes in through LaunchPlan, so the
 * argv is unit-tested without QEMU and the bench can print the exact line it compares against.
 */
export type Machine = 'microvm' | 'q35';

/** Where QEMU finds its files: paths as QEMU sees them (inside its jail, see jail.ts). */
export interface LaunchFiles {
  console: string; // serial console (kernel and init messages), for `isola console`
  log: string; // the workload's stdout/stderr as CRI log lines (virtio-serial port isola.log)
  status: string; // init's status lines: started / error / exit (port isola.status)
  pidfile: string;
  qmp: string; // QMP unix socket
  agent: string; // exec channel (port isola.agent)
  /**
   * The further exec channels (ports isola.agent1, isola.agent2; see EXTRA_AGENT_PORTS), so that
   * several exec sessions run at once; absent for VMs started before they existed.
   */
  agents?: string[];
  ctl: string; // stats, signals, shutdown (port isola.ctl)
  /** The workload's streams for attached clients (port isola.tty); absent for VMs started before it existed. */
  tty?: string;
}

export interface LaunchPlan {
  id: string;
  accel: Accel;
  /** -cpu model; 'default' leaves QEMU's own. */
  cpu: string;
  machine: Machine;
  memoryMiB: number;
  cpus: number;
  kernel: string;
  initrd: string;
  /** The instance's qcow2 overlay, and the image's base disk below it (raw, read-only). */
  disk: string;
  baseDisk: string;
  readOnly: boolean;
  /**
   * The disk is thrown away when the VM ends (run --rm): guest flushes are not passed on to the
   * host (cache.no-flush: each would be an fsync of the overlay file) and init skips its syncs
   * and clean remount at power-off (isola.disposable=1).
   */
  disposable?: boolean;
  files: LaunchFiles;
  /** The NICs' MACs, in order; the tap of the n-th is open on fd 3 + n, handed over by the jail. */
  nets: { mac: string }[];
  /** TCG only: the host's TSC rate, which is the guest's under TCG (see kernelCmdline). */
  tscKhz?: number;
  /** Whose kernel boots (isola's is told the emulated APIC timer's rate under TCG; see kernelCmdline). */
  guestKernel?: 'isola' | 'cloud' | 'custom';
  /** Extra kernel command line words (tests use it to break the boot on purpose). */
  extraCmdline?: string[];
  /** Shared folders: a vhost-user-fs device per share, its virtiofsd's socket as QEMU sees it. */
  shares?: { tag: string; socket: string }[];
  /**
   * microvm only: its virtio devices on microvm's PCIe bus rather than virtio-mmio. QEMU's
   * virtio-mmio offers every queue at 1024 entries, and the guest's virtio_console fills each
   * port's receive queue with a 4 KiB buffer per entry: about 4 MiB of guest memory per serial
   * port (five here) and as much for the control queue, all touched, all host memory. On PCI
   * the queues are the devices' own sizes (128 for virtio-serial). Absent: virtio-mmio (VMs
   * recorded before, whose snapshots hold that layout).
   */
  pcie?: boolean;
  /**
   * TCG only: the size of QEMU's translated-code cache in MiB (-accel tcg,tb-size=N); absent,
   * QEMU's default (1 GiB reserved, filled as the guest runs new code: about 30 MiB resident
   * after a boot here).
   */
  tbSizeMiB?: number;
}

/**
 * QEMU's own seccomp filter, strict: no obsolete syscalls, no setuid/setgid, no fork or exec,
 * no changes of priority or affinity. It can be this strict because QEMU is started
 * unprivileged and in the foreground by the jail (neither -runas nor -daemonize, which need
 * setuid and fork after the filter is in place).
 */
export const SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

/** Guest RAM below this does not boot the cloud kernel and initramfs (measured with QEMU 7.2: 80 MiB panics, 96 MiB boots). */
export const MIN_MEMORY_MIB = 96;
/**
 * isola's own kernel is smaller (about 10 MiB resident against the cloud kernel's 40, nothing
 * to load into it): measured with QEMU 7.2 under TCG, `run --as vm -m 48m base true` boots and
 * ends 0; 64 MiB is the size the benchmarks use.
 */
export const MIN_MEMORY_MIB_ISOLA = 48;

/** The least guest RAM for a kernel: isola's own, or the cloud kernel (and, not knowing better, a --kernel one). */
export function minMemoryMiB(kernel: 'isola' | 'cloud' | 'custom' | undefined): number {
  return kernel === 'isola' ? MIN_MEMORY_MIB_ISOLA : MIN_MEMORY_MIB;
}
export const DEFAULT_MEMORY_MIB = 256;

/**
 * TCG's translated-code cache of a plain VM, MiB (LaunchPlan.tbSizeMiB): QEMU's default
 * reserves 1 GiB and a boot and idle guest here leaves about 30 MiB of it resident; a boot
 * fills a smaller cache whole, so its size is what a plain VM keeps. 16 MiB cost `run --rm`
 * about 5 % against the default. 12 MiB was tried and not kept: 4-5 MiB less per idle VM, but
 * 31 ms and, in a second run, 74 ms more per `run --rm` (alternated pairs), which the 1 s target
 * cannot spare. Not for hybrids and machines: runc's Go code then keeps being retranslated
 * (measured: `run --rm --as hybrid` 1.8 s with QEMU's default, 3.4 s with 16 MiB). See
 * docs/BENCHMARKS.md.
 */
export const TCG_TB_SIZE_MIB = 16;

/**
 * The CPU model under TCG: QEMU's `max` without ERMS and FSRM ("enhanced/fast rep movsb and
 * stosb"). With them the guest's kernel clears every page and copies to and from user space
 * with `rep stosb`/`rep movsb`, and glibc picks the same for large copies; TCG runs a rep
 * string instruction one element per step, so byte-wise is 8 times the steps of the
 * quadword-wise `rep stosq` the kernel uses without them. Alternated, 6 pairs: a VM writing and
 * reading 200 MiB through /dev/shm 1520 -> 1292 ms; `run --rm ... true` unchanged (vm) or 14 ms
 * sooner (hybrid). VMs recorded with plain `max` keep it.
 */
export const TCG_CPU = 'max,-erms,-fsrm';

/**
 * TCG's translation cache for a hybrid whose guest runs crun (C, no Go runtime): 32 MiB. Measured
 * alternated against QEMU's default (7 pairs of `run --rm --as hybrid base true`, 3 idle
 * instances each): about 75 ms (6 %) more per start, 21.5 MiB less resident per idle hybrid
 * (132.5 against 154 MiB); 16 MiB saved 41 MiB but cost about 400 ms (30 %). docs/BENCHMARKS.md.
 */
export const HYBRID_CRUN_TB_SIZE_MIB = 32;

/** Round a byte count up to whole MiB for -m, and a CPU fraction up to whole vCPUs for -smp. */
export function memoryMiB(bytes: number | undefined): number {
  return bytes === undefined ? DEFAULT_MEMORY_MIB : Math.ceil(bytes / (1024 * 1024));
}

export function vcpus(cpus: number | undefined): number {
  return cpus === undefined || cpus <= 0 ? 1 : Math.ceil(cpus);
}

/**
 * Kernel command line words for a foreground run's client (read by the guest's init): hold the
 * workload's output until the client attached, and the terminal's size to start with.
 */
export function attachCmdline(size: { rows: number; cols: number } | null): string[] {
  return ['isola.attach=1', ...(size ? [`isola.tty=${Math.floor(size.rows)}x${Math.floor(size.cols)}`] : [])];
}

/** The kernel command line word that tells the guest's init its disk is thrown away (LaunchPlan.disposable). */
export const DISPOSABLE_CMDLINE = 'isola.disposable=1';

/** QEMU option values escape commas by doubling them. */
export function optValue(s: string): string {
  return s.replace(/,/g, ',,');
}

export function qemuArgs(p: LaunchPlan): string[] {
  const mmio = p.machine === 'microvm' && !p.pcie;
  const dev = (kind: 'blk' | 'net' | 'serial'): string => (mmio ? `virtio-${kind}-device` : `virtio-${kind}-pci`);
  const f = p.files;
  const shares = p.shares ?? [];
  const shared = shares.length > 0;
  // The overlay's header names its backing file by the host's path, which the jail does not
  // have: the backing file is given here by the path QEMU sees.
  const disk = [
    'driver=qcow2,node-name=root,discard=unmap',
    `file.driver=file,file.filename=${optValue(p.disk)}`,
    `backing.driver=raw,backing.file.driver=file,backing.file.filename=${optValue(p.baseDisk)},backing.read-only=on`,
    ...(p.readOnly ? ['read-only=on'] : []),
    ...(p.disposable ? ['cache.no-flush=on'] : []),
  ].join(',');
  const args: string[] = [
    '-name', `isola-${p.id}`,
    '-sandbox', SANDBOX,
    // microvm with its default ACPI: this kernel finds virtio-mmio devices (and, with pcie=on,
    // the PCIe host bridge) through ACPI only (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is off).
    // Firmware: qboot (bios-microvm.bin).
    '-M', `${p.machine === 'microvm' ? `microvm${p.pcie ? ',pcie=on' : ''}` : 'q35'}${shared ? ',memory-backend=mem' : ''}`,
    '-accel', p.accel === 'tcg' && p.tbSizeMiB ? `tcg,tb-size=${p.tbSizeMiB}` : p.accel,
    ...(p.cpu === 'default' ? [] : ['-cpu', p.cpu]),
    '-m', `${p.memoryMiB}M`,
    '-smp', String(p.cpus),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-chardev', `file,id=console,path=${optValue(f.console)},append=on`,
    '-serial', 'chardev:console',
    '-kernel', p.kernel,
    '-initrd', p.initrd,
    '-append', kernelCmdline({ ...p, extraCmdline: [...(p.disposable ? [DISPOSABLE_CMDLINE] : []), ...(p.extraCmdline ?? [])] }),
    '-blockdev', disk,
    '-device', `${dev('blk')},drive=root`,
    '-device', `${dev('serial')},max_ports=8`,
    ...agentPorts(f),
    ...(f.tty ? ['-chardev', `socket,id=tty,path=${optValue(f.tty)},server=on,wait=off`, '-device', 'virtserialport,chardev=tty,name=isola.tty'] : []),
    '-qmp', `unix:${optValue(f.qmp)},server=on,wait=off`,
    '-pidfile', f.pidfile,
  ];
  if (shared) {
    // libvhost-user refuses legacy virtio, which microvm's virtio-mmio offers unless told not to.
    if (mmio) args.push('-global', 'virtio-mmio.force-legacy=false');
    args.push(...shareArgs(shares, p.memoryMiB, mmio ? 'vhost-user-fs-device' : 'vhost-user-fs-pci'));
  }
  args.push(...nicArgs(p.nets, dev('net')));
  return args;
}

/**
 * How many exec channels a VM has besides isola.agent: QEMU's socket chardev serves one client at
 * a time, so each port carries one exec session. The virtio-serial device's max_ports=8 holds 7
 * named ports (its port 0 is kept for a console): log, status, agent, ctl, tty and these two.
 */
export const EXTRA_AGENT_PORTS = 2;

/** The guest's name of agent port n (0 is isola.agent, the one every VM has). */
export const agentPortName = (n: number): string => (n === 0 ? 'isola.agent' : `isola.agent${n}`);

/** isola's virtio-serial ports: the workload's log and status, the agent ports and the control channel. */
export function agentPorts(f: LaunchPlan['files']): string[] {
  const extra = (f.agents ?? []).flatMap((sock, i) => [
    '-chardev', `socket,id=agent${i + 1},path=${optValue(sock)},server=on,wait=off`,
    '-device', `virtserialport,chardev=agent${i + 1},name=${agentPortName(i + 1)}`,
  ]);
  return [
    '-chardev', `file,id=log,path=${optValue(f.log)},append=on`,
    '-device', 'virtserialport,chardev=log,name=isola.log',
    '-chardev', `file,id=status,path=${optValue(f.status)},append=on`,
    '-device', 'virtserialport,chardev=status,name=isola.status',
    '-chardev', `socket,id=agent,path=${optValue(f.agent)},server=on,wait=off`,
    '-device', 'virtserialport,chardev=agent,name=isola.agent',
    ...extra,
    '-chardev', `socket,id=ctl,path=${optValue(f.ctl)},server=on,wait=off`,
    '-device', 'virtserialport,chardev=ctl,name=isola.ctl',
  ];
}

/**
 * Shared folders: virtiofsd reads and writes guest memory itself, so the guest's RAM is a
 * shareable memfd; one vhost-user-fs device per share, on its virtiofsd's socket.
 */
export function shareArgs(shares: readonly { tag: string; socket: string }[], memoryMiB: number, device: string): string[] {
  const args = ['-object', `memory-backend-memfd,id=mem,size=${memoryMiB}M,share=on`];
  for (const [i, s] of shares.entries()) args.push('-chardev', `socket,id=vfs${i},path=${optValue(s.socket)}`, '-device', `${device},chardev=vfs${i},tag=${s.tag}`);
  return args;
}

/** One NIC per network: the jail opened the taps as root and passes them as fd 3, 4, ... (QEMU needs no /dev/net/tun). */
export function nicArgs(nets: readonly { mac: string }[], device: string): string[] {
  return nets.flatMap((n, i) => ['-netdev', `tap,id=net${i},fd=${3 + i},vhost=off`, '-device', `${device},netdev=net${i},mac=${n.mac}`]);
}
