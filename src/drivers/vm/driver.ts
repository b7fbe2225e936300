import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import type { AttachIO, AttachSession, Capability, ExecOptions, ExitInfo, InstanceSpec, LogEntry, Observed, PathKind, ProcessInfo, ResourceUpdate, Stats, StoredData } from '../../core/types.js';
import type { Driver, DriverContext, LogsOptions, SnapshotRef, SnapshotWhile, StartAttach } from '../driver.js';
import { IsolaError } from '../../core/errors.js';
import type { Config } from '../../core/config.js';
import { guestBoot, readGuestAssets } from '../../guest/assets.js';
import { cpioArchive } from '../../guest/cpio.js';
import { encodeRecords, type GuestRecords } from '../../guest/records.js';
import { bridgeNetworks, ensureEtcFiles, readEtcFiles, type EtcFiles } from '../../net/etc-files.js';
import { ensureBridge } from '../../net/bridge.js';
import { createTap, deleteTaps } from '../../net/tap.js';
import { Waker } from '../../util/waker.js';
import { run } from '../../util/exec.js';
import { allocatedBytes } from '../../util/fsx.js';
import { findQemu, findQemuImg, probeAccelerator } from './accel.js';
import { AgentConnection, request } from './agent.js';
import { agentPortsOf, openAgentSession } from './agent-ports.js';
import { createOverlay, diskUsage, ensureBaseDisk, type DiskUsage } from './disk.js';
import { HYBRID_CRUN_TB_SIZE_MIB, MIN_MEMORY_MIB, TCG_CPU, TCG_TB_SIZE_MIB, attachCmdline, minMemoryMiB, memoryMiB, qemuArgs, tscKhzFromCpuinfo, vcpus, type LaunchPlan } from './launch.js';
import { readK8sLog } from '../cri-log.js';
import {
  EXIT_VM_KILLED, consoleTail, exitInfo, killQemu, launchJailed, orphanOf, qmpCommand, readStatus, socketPath, vmmAlive, waitGone, waitLaunched,
} from './monitor.js';
import { endWatcher, parseProcessList, startWatcher } from './watch.js';
import { IN_JAIL, handOver, jailArgv, launchFiles, vmmCgroupPath, vmmId, VMM_MEMORY_MARGIN, VMM_PIDS } from './jail.js';
import { createCgroup, removeCgroup } from '../../util/cgroup.js';
import { decodeVmData, type VmData, type WholeDiskData } from './persist.js';
import { createVmSnapshot, removeVmSnapshot, restoreVmSnapshot } from './snapshot.js';
import { blockBytes, hostOverhead, parseGuestStats } from './stats.js';
import { diskImageFacts, type DiskImageFacts } from '../../image/disk-image.js';
import { OVMF_CODE, OVMF_VARS, wholeDiskArgs, type WholeDiskBoot } from './launch-whole-disk.js';
import {
  EXIT_NO_BOOTABLE_DEVICE, NO_BOOT_MESSAGE, ensureWholeDisk, hostSideStats, readFirmwareOutcome, recordExit, settleExit,
} from './whole-disk.js';
import { readConsoleLog } from './console-log.js';
import { checkShares, planShares, sharesInJail, startShares, stopShares } from './virtiofs.js';
import { openTerminal } from './terminal.js';

/**
 * `--as vm`: the image's layers as an ext4 root disk behind a per-instance qcow2 overlay,
 * booted by QEMU (microvm machine, KVM when a real boot probe says it works, TCG otherwise)
 * with Debian's cloud kernel and isola's static init/agent (src/guest/init.c).
 *
 * A whole-disk image (isola import-vm, isola export) boots the classic way instead: q35, its
 * firmware, the disk's own bootloader and kernel (launch-whole-disk.ts). With isola's init on
 * the disk it is managed like any VM; without, its serial console is its log, ACPI stops it,
 * and its stats are seen from the host (whole-disk.ts).
 */

/**
 * What a whole disk with its own OS is told by fw_cfg: its first network's address and gateway
 * and its hostname (a hypervisor's job, as Ignition reads its config under QEMU), nothing else:
 * no command, no environment. An OS that does not read fw_cfg ignores it.
 */
export function ownOsRecords(spec: InstanceSpec): GuestRecords {
  const net = spec.network.mode === 'bridge' ? spec.network : null;
  return { argv: [], env: [], hostname: spec.hostname, ...(net ? { ip: `${net.ip}/${net.prefixLength}`, gateway: net.gateway } : {}) };
}

function bootTimeoutMs(config: Config, accel: string): number {
  return config.vm.bootTimeoutMs ?? (accel === 'kvm' ? 20_000 : 60_000);
}

const finishedMarker = (v: VmData): string => `${v.files.status}.finished`;

/** A whole-disk VM without isola's init: the guest reports nothing, so the host tells. */
const ownOs = (v: VmData): WholeDiskData | null => (v.wholeDisk && !v.wholeDisk.agent ? v.wholeDisk : null);

/** What a VM records once it runs: nothing yet (a fresh object each time: the argv is its own). */
const notStarted = (): Pick<VmData, 'tap' | 'pid' | 'pidStartTime' | 'bootId' | 'startedAt' | 'qemuArgv'> =>
  ({ tap: null, pid: null, pidStartTime: null, bootId: null, startedAt: null, qemuArgv: [] });

function noAgent(spec: InstanceSpec, what: string): IsolaError {
  return new IsolaError('UNAVAILABLE', `VM ${spec.name} boots its own OS, without isola's init: ${what} needs it`,
    'reach the guest through its own services (ssh, a published port), or export the image with --boot isola to run a command under isola\'s init');
}

function mustExist(file: string | undefined, what: string, flag: string): void {
  if (file === undefined) return;
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new IsolaError('NOT_FOUND', `the ${what} ${file} does not exist`, `pass an existing file to ${flag}, or leave ${flag} out to use the bundled guest ${what}`);
  }
}

function signalNumber(signal: string): number {
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) return Number(s);
  const name = (s.startsWith('SIG') ? s : `SIG${s}`) as keyof typeof os.constants.signals;
  const n = os.constants.signals[name];
  if (n === undefined) throw new IsolaError('INVALID_ARGUMENT', `unknown signal ${signal}`, 'use a name like TERM or KILL, or a number');
  return n;
}

let qemuVersionCache: string | undefined;
async function qemuVersion(qemu: string): Promise<string> {
  if (qemuVersionCache) return qemuVersionCache;
  const r = await run(qemu, ['--version']).catch(() => ({ code: 1, stdout: '', stderr: '' }));
  const m = /version (\S+)/.exec(r.stdout);
  qemuVersionCache = m?.[1] ?? 'unknown';
  return qemuVersionCache;
}

let tscKhzCache: number | undefined | null = null;
function hostTscKhz(): number | undefined {
  if (tscKhzCache === null) {
    try {
      tscKhzCache = tscKhzFromCpuinfo(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      tscKhzCache = undefined;
    }
  }
  return tscKhzCache;
}

export class VmDriver implements Driver<VmData> {
  readonly kind = 'vm' as const;

  constructor(private readonly ctx: DriverContext) {}

  decode(stored: StoredData): VmData | null {
    return decodeVmData(stored);
  }

  async probe(): Promise<Capability> {
    const details: Record<string, string> = {};
    let qemu: string;
    try {
      qemu = findQemu(this.ctx.config);
    } catch (e) {
      return { ok: false, reason: (e as IsolaError).oneLine(), details };
    }
    details.qemu = `${await qemuVersion(qemu)} (${qemu})`;
    details.machine = `${this.ctx.config.vm.machine === 'microvm' ? 'microvm, qboot firmware (bios-microvm.bin), virtio on its PCIe bus' : 'q35, SeaBIOS, virtio-pci'}; TCG translation cache ${TCG_TB_SIZE_MIB} MiB for a plain VM, ${HYBRID_CRUN_TB_SIZE_MIB} MiB for a hybrid running crun, QEMU's default for runc hybrids and machines`;
    const assets = readGuestAssets(this.ctx.config.assets);
    const choice = this.ctx.config.vm.kernel;
    const booted = assets ? (choice === 'isola' ? assets.isolaKernel?.release ?? 'not built' : assets.kernelVersion) : 'not set up';
    details.guestKernel = `${booted} (ISOLA_VM_KERNEL=${choice})`;
    if (assets) {
      details.isolaKernel = assets.isolaKernel ? `${assets.isolaKernel.release}, built from linux-source-6.1 (config ${assets.isolaKernel.key.slice(0, 12)}), no modules` : 'not built (npm run bootstrap builds it)';
      details.cloudKernel = `${assets.kernelVersion} (${assets.kernelPackage})`;
    }
    const v = await probeAccelerator(this.ctx.config);
    details.accelerator = v.accel;
    details.kvm = v.kvmUsable ? `usable (probe booted a guest in ${v.probeMs ?? '?'} ms)` : `not used: ${v.reason}`;
    if (!assets) {
      return { ok: false, reason: 'the guest kernel and init are not set up; run npm run bootstrap (node dist/src/cli/setup.js)', details };
    }
    return { ok: true, details };
  }

  /** The image's layers as the root disk, or a whole-disk image's own disk. */
  async create(spec: InstanceSpec): Promise<VmData> {
    const facts = diskImageFacts(spec.image.config);
    if (facts) return this.createWholeDisk(spec, facts);
    this.checkCreate(spec);
    const v = await this.createWithDisk(spec, await ensureBaseDisk(spec.image, this.ctx.cache, this.ctx.config.unpack));
    // A plain VM's workload is the image's own command: TCG's small translation cache saves
    // host memory at a few percent of boot time. Hybrids and machines (createWithDisk) run
    // runc's Go code, which a 16 MiB cache keeps retranslating (about +1.6 s per hybrid start).
    return v.accelerator === 'tcg' ? { ...v, tbSizeMiB: TCG_TB_SIZE_MIB } : v;
  }

  /** What can be refused before any work is done. */
  private checkCreate(spec: InstanceSpec): void {
    if (spec.devices?.length) throw new IsolaError('INVALID_ARGUMENT', '--device is not available with --as vm: a VM has its own kernel and cannot reach the host\'s devices (isola passes none through)', 'drop --device, or use --as container');
    mustExist(spec.kernel, 'kernel', '--kernel');
    mustExist(spec.initrd, 'initrd', '--initrd');
    const mem = memoryMiB(spec.memoryBytes);
    const min = minMemoryMiB(spec.kernel ? 'custom' : this.ctx.config.vm.kernel);
    if (mem < min) {
      throw new IsolaError('INVALID_ARGUMENT', `-m ${mem}m is below the ${min} MiB the guest kernel needs to boot`, `give the VM at least -m ${min}m`);
    }
    findQemu(this.ctx.config);
    if (!readGuestAssets(this.ctx.config.assets) && !(spec.kernel && spec.initrd)) {
      throw new IsolaError('UNAVAILABLE', 'the guest kernel and init are not set up', 'run npm run bootstrap once');
    }
  }

  /** A VM that boots `baseDisk` (read-only, shared) behind its own qcow2 overlay: the hybrid kind brings its own disk. */
  async createWithDisk(spec: InstanceSpec, baseDisk: string): Promise<VmData> {
    this.checkCreate(spec);
    const mem = memoryMiB(spec.memoryBytes);
    const assets = readGuestAssets(this.ctx.config.assets);
    // The guest kernel (ISOLA_VM_KERNEL): isola's own unless --kernel names one or cloud is asked;
    // refused here, before anything is made, when isola's is not built.
    const choice = this.ctx.config.vm.kernel;
    const boot = assets && !spec.kernel ? guestBoot(assets, choice) : null;
    const shares = planShares(spec);
    checkShares(this.ctx.config, assets?.vfsLaunch, shares);
    const accel = await probeAccelerator(this.ctx.config);
    const { uid, files, overlay } = await this.prepareFolders(spec, baseDisk);

    // The initrd with this instance's config is written at each start (its networks and /etc
    // files may have changed since); only QEMU's uid may read it: it holds the -e values.
    const initrd = path.join(spec.dir, 'initrd.cpio');
    handOver(uid, [], [{ path: overlay, mode: 0o600 }]);

    const v: VmData = {
      version: 2,
      accelerator: accel.accel,
      acceleratorReason: accel.reason,
      cpu: accel.accel === 'kvm' ? (accel.cpu ?? 'host') : TCG_CPU,
      machine: this.ctx.config.vm.machine,
      // New microvm VMs put their virtio devices on PCIe (LaunchPlan.pcie says why).
      ...(this.ctx.config.vm.machine === 'microvm' ? { pcie: true } : {}),
      memoryMiB: mem,
      cpus: vcpus(spec.cpus),
      kernel: spec.kernel ?? boot?.kernel ?? '',
      kernelVersion: spec.kernel ? 'custom' : (boot?.kernelVersion ?? ''),
      guestKernel: spec.kernel ? 'custom' : choice,
      initrd,
      baseDisk,
      overlay,
      files,
      consoleLog: files.console,
      imageDiskBytes: allocatedBytes(baseDisk),
      vmmUid: uid,
      ...notStarted(),
      ...(shares.length > 0 ? { shares } : {}),
    };
    return v;
  }

  /**
   * A whole-disk image: its disk (out of the image once, cached) behind the instance's overlay,
   * and what its firmware needs. The image's labels give CPUs and memory unless --cpus and -m do.
   */
  private async createWholeDisk(spec: InstanceSpec, facts: DiskImageFacts): Promise<VmData> {
    if (spec.kernel || spec.initrd) {
      throw new IsolaError('INVALID_ARGUMENT', `image ${spec.image.ref} is a whole disk, which boots its own kernel`, 'leave out --kernel and --initrd');
    }
    if (spec.tty || spec.stdinOpen) {
      // The terminal port is isola's, and a whole disk's console is its serial port (isola console).
      throw new IsolaError('INVALID_ARGUMENT', `image ${spec.image.ref} is a whole disk: -i and -t are not offered for it`, 'leave out -i and -t; watch its console with isola console, or reach it over the network');
    }
    if (!facts.agent && spec.argv.length > 0) {
      throw new IsolaError('INVALID_ARGUMENT', `image ${spec.image.ref} boots its own OS, without isola's init, so it takes no command (${spec.argv.join(' ')})`,
        'run it without a command; its own init decides what runs');
    }
    if (facts.firmware === 'uefi' && !(fs.existsSync(OVMF_CODE) && fs.existsSync(OVMF_VARS))) {
      throw new IsolaError('UNAVAILABLE', `image ${spec.image.ref} needs UEFI firmware, and ${OVMF_CODE} is missing`, 'install Debian\'s ovmf package (npm run bootstrap does)');
    }
    const mem = spec.memoryBytes === undefined ? facts.memoryMiB : memoryMiB(spec.memoryBytes);
    if (mem < MIN_MEMORY_MIB) {
      throw new IsolaError('INVALID_ARGUMENT', `-m ${mem}m is below the ${MIN_MEMORY_MIB} MiB a VM needs`, `give the VM at least -m ${MIN_MEMORY_MIB}m`);
    }
    if (!facts.agent && (spec.mounts ?? []).length > 0) {
      throw new IsolaError('INVALID_ARGUMENT', `image ${spec.image.ref} boots its own OS, without isola's init, so it takes no -v, --mount or --tmpfs`,
        'its own OS mounts what its fstab says; copy files in over its network');
    }
    const shares = planShares(spec);
    checkShares(this.ctx.config, readGuestAssets(this.ctx.config.assets)?.vfsLaunch, shares);
    findQemu(this.ctx.config);
    const base = await ensureWholeDisk(spec.image, this.ctx.cache, findQemuImg(this.ctx.config), this.ctx.config.unpack);
    const accel = await probeAccelerator(this.ctx.config);
    const { uid, files, overlay } = await this.prepareFolders(spec, base, 'qcow2');
    const state = path.dirname(overlay);
    const owned: { path: string; mode: number }[] = [{ path: overlay, mode: 0o600 }];

    // isola's init inside gets the instance's config by fw_cfg, written at each start (writeConfig);
    // a disk with its own OS gets its address that way when it has one (ownOsRecords).
    const config = facts.agent || spec.network.mode === 'bridge' ? path.join(spec.dir, 'config') : null;
    let vars: string | null = null;
    if (facts.firmware === 'uefi') {
      vars = path.join(state, 'vars.fd');
      fs.copyFileSync(OVMF_VARS, vars);
      owned.push({ path: vars, mode: 0o600 });
    }
    handOver(uid, [], owned);

    return {
      version: 2,
      accelerator: accel.accel,
      acceleratorReason: accel.reason,
      cpu: accel.accel === 'kvm' ? (accel.cpu ?? 'host') : TCG_CPU,
      machine: 'q35',
      memoryMiB: mem,
      cpus: spec.cpus === undefined ? facts.cpus : vcpus(spec.cpus),
      kernel: '',
      kernelVersion: facts.agent ? 'isola\'s, on the disk' : 'the disk\'s own',
      initrd: '',
      baseDisk: base,
      overlay,
      files,
      consoleLog: files.console,
      imageDiskBytes: allocatedBytes(base),
      vmmUid: uid,
      ...notStarted(),
      wholeDisk: { firmware: facts.firmware, bus: facts.bus, agent: facts.agent, config, vars, firmwareLog: path.join(state, 'firmware.log') },
      ...(shares.length > 0 ? { shares } : {}),
    };
  }

  /**
   * The instance's VM folders, handed to its QEMU uid (it owns what it writes, state and
   * runtime, and nothing else), and its qcow2 overlay on `baseDisk`.
   */
  private async prepareFolders(spec: InstanceSpec, baseDisk: string, baseFormat: 'raw' | 'qcow2' = 'raw'): Promise<{ uid: number; files: ReturnType<typeof launchFiles>; overlay: string }> {
    const uid = vmmId(spec.id);
    const state = path.join(spec.dir, 'vm');
    handOver(uid, [state, spec.runDir], []);
    fs.mkdirSync(this.jailRoot(), { recursive: true, mode: 0o755 });
    const files = launchFiles(state, spec.runDir);
    const overlay = path.join(state, 'disk.qcow2');
    if (!fs.existsSync(overlay)) await createOverlay(this.ctx.config, baseDisk, overlay, baseFormat);
    return { uid, files, overlay };
  }

  /** QEMU's argv for a whole-disk VM, with the paths it sees inside its jail. */
  private wholeDiskBoot(w: WholeDiskData): WholeDiskBoot {
    return {
      firmware: w.firmware,
      bus: w.bus,
      agent: w.agent,
      config: w.config ? IN_JAIL.config : null,
      firmwareLog: path.join(IN_JAIL.state, path.basename(w.firmwareLog)),
      ovmf: w.vars ? { code: OVMF_CODE, vars: path.join(IN_JAIL.state, path.basename(w.vars)) } : null,
    };
  }

  /** An empty folder every jail mounts its own root on, inside its own mount namespace. */
  private jailRoot(): string {
    return path.join(this.ctx.paths.run, 'vmm-root');
  }

  /** QEMU's command line, with the paths it sees inside its jail. */
  plan(spec: InstanceSpec, v: VmData, extraCmdline: string[] = []): LaunchPlan {
    const nets = v.tap ? bridgeNetworks(spec).map((n) => ({ mac: n.mac })) : [];
    return {
      id: spec.id,
      accel: v.accelerator,
      cpu: v.cpu,
      machine: v.machine,
      memoryMiB: v.memoryMiB,
      cpus: v.cpus,
      kernel: IN_JAIL.kernel,
      initrd: IN_JAIL.initrd,
      disk: path.join(IN_JAIL.state, 'disk.qcow2'),
      baseDisk: IN_JAIL.baseDisk,
      readOnly: spec.readOnly,
      ...(spec.disposable ? { disposable: true } : {}),
      files: launchFiles(IN_JAIL.state, IN_JAIL.run),
      nets,
      tscKhz: hostTscKhz(),
      ...(v.guestKernel ? { guestKernel: v.guestKernel } : {}),
      extraCmdline: [...extraCmdline, ...this.ctx.config.vm.cmdline],
      ...(v.shares?.length ? { shares: sharesInJail(v.shares) } : {}),
      ...(v.pcie ? { pcie: true } : {}),
      ...(v.tbSizeMiB ? { tbSizeMiB: v.tbSizeMiB } : {}),
    };
  }

  /**
   * What isola's init in the guest is told: the workload, its NICs by MAC, /etc/hosts and
   * resolv.conf as they are now, shared folders and tmpfs mounts, the terminal. A whole disk's
   * own config (baked in by isola export) keeps what the run leaves unset.
   */
  private guestRecords(spec: InstanceSpec, v: VmData): { records: GuestRecords; etc: EtcFiles } {
    const nets = bridgeNetworks(spec);
    const etc = ensureEtcFiles(spec);
    const disk = v.wholeDisk !== undefined;
    return {
      etc,
      records: {
        argv: spec.argv,
        env: spec.env,
        workdir: disk && spec.workdir === '/' ? undefined : spec.workdir,
        user: disk && !spec.user ? undefined : spec.user,
        hostname: spec.hostname,
        interfaces: nets.map((n) => ({ mac: n.mac, name: n.ifname ?? 'eth0', ip: `${n.ip}/${n.prefixLength}` })),
        gateway: nets[0]?.gateway,
        readOnly: spec.readOnly,
        hosts: etc.hosts,
        resolv: etc.resolv,
        // Parents before children, so a mount inside another share lands on it.
        shares: (v.shares ?? []).map((sh) => ({ tag: sh.tag, target: sh.guestTarget, readOnly: sh.readOnly })).sort(byDepth),
        tmpfs: (spec.mounts ?? []).flatMap((m) => (m.type === 'tmpfs' ? [m] : [])).sort(byDepth),
        limits: (spec.ulimits ?? []).map((u) => `${u.name} ${u.soft} ${u.hard}`),
        tty: spec.tty,
        ...(spec.stdinOpen ? { stdin: spec.stdinOnce ? 'once' as const : 'open' as const } : {}),
      },
    };
  }

  /**
   * The instance's config, written at each start, readable by this VM's QEMU only (it holds the
   * -e values): appended to the shared initramfs, or for a whole disk with isola's init the file
   * QEMU passes by fw_cfg. A disk with its own OS is told its address, gateway and hostname
   * only, by fw_cfg too, for an OS that reads them. Returns the /etc files sent.
   */
  private writeConfig(spec: InstanceSpec, v: VmData): EtcFiles | null {
    if (v.wholeDisk && !v.wholeDisk.agent) {
      if (v.wholeDisk.config) {
        fs.rmSync(v.wholeDisk.config, { force: true });
        fs.writeFileSync(v.wholeDisk.config, encodeRecords(ownOsRecords(spec)), { mode: 0o600 });
        handOver(v.vmmUid, [], [{ path: v.wholeDisk.config, mode: 0o400 }]);
      }
      return null;
    }
    const { records, etc } = this.guestRecords(spec, v);
    const config = encodeRecords(records);
    if (v.wholeDisk?.config) {
      fs.rmSync(v.wholeDisk.config, { force: true });
      fs.writeFileSync(v.wholeDisk.config, config, { mode: 0o600 });
      handOver(v.vmmUid, [], [{ path: v.wholeDisk.config, mode: 0o400 }]);
      return etc;
    }
    const assets = readGuestAssets(this.ctx.config.assets);
    // isola's kernel boots its own initramfs (no modules); older records and --kernel the cloud one.
    const baseInitrd = spec.initrd ?? (assets && v.guestKernel === 'isola' ? guestBoot(assets, 'isola').initramfs : assets?.initramfs) ?? '';
    fs.rmSync(v.initrd, { force: true });
    fs.writeFileSync(v.initrd, Buffer.concat([
      fs.readFileSync(baseInitrd),
      cpioArchive([{ type: 'dir', name: 'isola' }, { type: 'file', name: 'isola/config', data: config }]),
    ]), { mode: 0o600 });
    handOver(v.vmmUid, [], [{ path: v.initrd, mode: 0o400 }]);
    return etc;
  }

  async start(spec: InstanceSpec, data: VmData, checkpoint?: (data: VmData) => void, attach?: StartAttach): Promise<VmData> {
    const v = { ...data, ...(data.shares ? { shares: data.shares.map((sh) => ({ ...sh })) } : {}) };
    if (vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is already running`, 'stop it first');
    for (const f of [v.files.status, finishedMarker(v), v.files.pidfile, v.files.agent, ...(v.files.agents ?? []), v.files.ctl, v.files.qmp, v.files.tty]) if (f) fs.rmSync(f, { force: true });
    if (v.wholeDisk) fs.rmSync(v.wholeDisk.firmwareLog, { force: true });
    let session: Promise<AttachSession> | null = null;
    try {
      const assets = readGuestAssets(this.ctx.config.assets);
      if (!assets?.vmmJail) throw new IsolaError('UNAVAILABLE', 'the VMM jail (isola-vmm-jail) is not built', 'run npm run bootstrap once');
      if (v.guestKernel === 'isola' || v.guestKernel === 'cloud') {
        // The kernel as set up now: a changed fragment rebuilt isola's under a new path since create.
        const b = guestBoot(assets, v.guestKernel);
        v.kernel = b.kernel;
        v.kernelVersion = b.kernelVersion;
      }
      const etc = this.writeConfig(spec, v);
      // A VM recorded before the extra agent ports existed gets them from this start on (agent-ports.ts).
      v.files.agents ??= launchFiles(path.dirname(v.files.status), spec.runDir).agents;
      const taps: string[] = [];
      for (const n of bridgeNetworks(spec)) {
        await ensureBridge(n);
        taps.push(await createTap(spec.id, n.bridge, v.vmmUid, n.ifname ?? 'eth0'));
      }
      v.tap = taps[0] ?? null;
      v.taps = taps;
      if (v.shares?.length) {
        // virtiofsd first: QEMU connects to every share's socket when it starts.
        await startShares(this.ctx.config, assets.vfsLaunch ?? '', v.vmmUid, v.shares, () => checkpoint?.({ ...v, shares: v.shares?.map((sh) => ({ ...sh })) }));
      }
      if (!assets.exitWatch) throw new IsolaError('UNAVAILABLE', 'the VM exit watcher (isola-exit-watch) is not built', 'run npm run bootstrap once');
      const cgroups = createCgroup(vmmCgroupPath(spec.id), {
        memoryBytes: v.memoryMiB * 1024 * 1024 + VMM_MEMORY_MARGIN, pids: VMM_PIDS, cpus: v.cpus + 1,
      });
      const plan = this.plan(spec, v, attach ? attachCmdline(attach.size ?? null) : []);
      const argv = jailArgv({
        jail: assets.vmmJail, root: this.jailRoot(), uid: v.vmmUid, taps: v.taps ?? (v.tap ? [v.tap] : []), kvm: v.accelerator === 'kvm', cgroups,
        kernel: v.kernel || null, initrd: v.initrd || null, config: v.wholeDisk?.config ?? null,
        baseDisk: v.baseDisk, state: path.dirname(v.overlay), run: spec.runDir, qemu: findQemu(this.ctx.config),
      }, v.wholeDisk ? wholeDiskArgs(plan, this.wholeDiskBoot(v.wholeDisk)) : qemuArgs(plan));
      v.qemuArgv = argv;
      const qemu = launchJailed(argv, path.join(spec.runDir, 'vmm.err'));
      v.pid = qemu.pid;
      v.pidStartTime = qemu.startTime;
      v.bootId = qemu.bootId;
      v.startedAt = new Date().toISOString();
      v.watcher = null;
      checkpoint?.({ ...v });
      // QEMU cannot start programs (its seccomp filter forbids it): a small watcher runs the exit
      // command when it ends, as conmon does for a container, and keeps the log under its limit.
      if (spec.cleanupCommand.length > 0 || spec.logMaxBytes) {
        v.watcher = startWatcher(assets.exitWatch, { pid: qemu.pid, startTime: qemu.startTime ?? 0 }, spec.cleanupCommand, v.files.log, spec.logMaxBytes, this.ctx.config.env);
        checkpoint?.({ ...v });
      }
      await waitLaunched(qemu, v.files.qmp, path.join(spec.runDir, 'vmm.err'));
      // The client connects while the guest boots; init holds the workload's output until it has.
      if (attach) {
        session = openTerminal(socketPath(v, 'tty'), attach, spec.name, bootTimeoutMs(this.ctx.config, v.accelerator));
        session.catch(() => undefined); // awaited below, or closed on failure
      }
      const own = ownOs(v);
      if (own) await this.waitBooting(spec, v, own);
      else await this.waitStarted(spec, v);
      // An instance that joined or left its networks while it booted: the guest gets the new files.
      const now = etc ? readEtcFiles(spec) : null;
      if (etc && now && (now.hosts !== etc.hosts || now.resolv !== etc.resolv)) await this.refreshEtc(spec, v).catch(() => undefined);
      if (session && attach) attach.attached(await session);
    } catch (e) {
      void session?.then((s) => s.close(), () => undefined);
      await this.cleanup(spec, v);
      throw e;
    }
    return v;
  }

  /**
   * A VM with its own OS is started once its firmware hands over to the disk's loader, or finds
   * nothing to boot (then it stops with status 1, the firmware's words in its log; SeaBIOS ends
   * QEMU itself, OVMF's shell is ended here). Under UEFI without a verdict yet, once QEMU runs.
   */
  private async waitBooting(spec: InstanceSpec, v: VmData, w: WholeDiskData): Promise<void> {
    const timeout = bootTimeoutMs(this.ctx.config, v.accelerator);
    const deadline = Date.now() + timeout;
    for (;;) {
      const outcome = readFirmwareOutcome(v, w);
      if (outcome === 'booting') return;
      if (outcome === 'no-boot') {
        if (vmmAlive(spec, v)) {
          recordExit(v, EXIT_NO_BOOTABLE_DEVICE);
          await killQemu(spec, v);
        }
        settleExit(v, w);
        return;
      }
      if (!vmmAlive(spec, v)) return;
      if (Date.now() > deadline) {
        throw new IsolaError('TIMEOUT', `the VM's firmware did not reach the disk's bootloader within ${timeout / 1000} s (${v.accelerator}); console: ${consoleTail(v.files.console)}`,
          'raise ISOLA_VM_BOOT_TIMEOUT_MS on a slow host');
      }
      await sleep(20);
    }
  }

  async attach(spec: InstanceSpec, v: VmData, io: AttachIO): Promise<AttachSession> {
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first; isola logs shows what it wrote');
    if (v.wholeDisk) {
      throw new IsolaError('INVALID_ARGUMENT', `VM ${spec.name} boots a whole disk, which has no terminal port to attach to`, 'watch its console with isola console -f, or reach it over the network');
    }
    return openTerminal(socketPath(v, 'tty'), io, spec.name, ATTACH_TIMEOUT_MS);
  }

  /** Until init reports the workload started (or failed to), QEMU ends, or the boot times out. */
  private async waitStarted(spec: InstanceSpec, v: VmData): Promise<void> {
    // QEMU appends init's status lines to the file: a watch of its folder wakes the wait at
    // once, where a 10 ms nap alone cost a foreground run 5 ms on average before its output.
    const waker = new Waker([path.dirname(v.files.status)]);
    try {
      await this.pollStarted(spec, v, waker);
    } finally {
      waker.close();
    }
  }

  private async pollStarted(spec: InstanceSpec, v: VmData, waker: Waker): Promise<void> {
    const timeout = bootTimeoutMs(this.ctx.config, v.accelerator);
    const deadline = Date.now() + timeout;
    for (;;) {
      const st = readStatus(v.files.status);
      if (st.error) {
        await waitGone(spec, v, 3000);
        const code = st.error.code === 127 ? 'COMMAND_NOT_FOUND' : st.error.code === 126 ? 'CANNOT_INVOKE' : 'INTERNAL';
        throw new IsolaError(code, `the VM's workload could not start: ${st.error.message}`,
          code === 'COMMAND_NOT_FOUND' ? 'check the command exists in the image and is on its PATH' : 'check the command is an executable file');
      }
      if (st.startedPid !== null || st.exitCode !== null) return;
      if (!vmmAlive(spec, v)) {
        if (v.wholeDisk && readFirmwareOutcome(v, v.wholeDisk) === 'no-boot') {
          throw new IsolaError('INTERNAL', `${NO_BOOT_MESSAGE}`, 'check the disk has a bootloader (and --firmware matches it: bios or uefi)');
        }
        throw new IsolaError('INTERNAL', `the VM stopped before its workload started; console: ${consoleTail(v.files.console)}`, 'see isola console for the whole boot log');
      }
      if (Date.now() > deadline) {
        throw new IsolaError('TIMEOUT', `the VM's guest did not become ready within ${timeout / 1000} s (${v.accelerator}); console: ${consoleTail(v.files.console)}`,
          'check --kernel/--initrd, or raise ISOLA_VM_BOOT_TIMEOUT_MS on a slow host');
      }
      await waker.nap(10);
    }
  }

  async observe(spec: InstanceSpec, v: VmData): Promise<Observed> {
    if (v.startedAt === null) return { state: 'created' };
    if (vmmAlive(spec, v)) return { state: 'running', pid: v.pid ?? 0 };
    return { state: 'exited', exit: this.exit(v) };
  }

  private exit(v: VmData): ExitInfo {
    const own = ownOs(v);
    if (own) settleExit(v, own);
    return exitInfo(v.files.status, finishedMarker(v));
  }

  async wait(spec: InstanceSpec, v: VmData): Promise<ExitInfo> {
    let exitSeenAt = 0;
    while (vmmAlive(spec, v)) {
      // The guest powers off right after it reports; if QEMU lingers, end it.
      if (!exitSeenAt && readStatus(v.files.status).exitCode !== null) exitSeenAt = Date.now();
      if (exitSeenAt && Date.now() - exitSeenAt > 5000) await killQemu(spec, v);
      await sleep(10);
    }
    return this.exit(v);
  }

  async stop(spec: InstanceSpec, v: VmData, timeoutSec: number): Promise<void> {
    if (!vmmAlive(spec, v)) return;
    if (ownOs(v)) {
      // ACPI's power button, as a hypervisor's "shut down": the guest's OS powers off (status 0).
      const asked = await qmpCommand(socketPath(v, 'qmp'), 'system_powerdown').then(() => true, () => false);
      if (asked && (await waitGone(spec, v, timeoutSec * 1000))) return;
      recordExit(v, EXIT_VM_KILLED);
      await killQemu(spec, v);
      return;
    }
    const asked = await request(socketPath(v, 'ctl'), 'K', String(signalNumber(spec.stopSignal ?? 'TERM')), 3000).then(() => true, () => false);
    if (asked && (await waitGone(spec, v, timeoutSec * 1000))) return;
    await request(socketPath(v, 'ctl'), 'K', String(os.constants.signals.SIGKILL), 2000).catch(() => undefined);
    if (await waitGone(spec, v, 3000)) return;
    await killQemu(spec, v);
  }

  async kill(spec: InstanceSpec, v: VmData, signal: string): Promise<void> {
    const sig = signalNumber(signal);
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    if (ownOs(v)) {
      // No init to deliver signals: KILL ends the VM, TERM and INT press the power button.
      if (sig === os.constants.signals.SIGKILL) {
        recordExit(v, EXIT_VM_KILLED);
        await killQemu(spec, v);
      } else if (sig === os.constants.signals.SIGTERM || sig === os.constants.signals.SIGINT) {
        await qmpCommand(socketPath(v, 'qmp'), 'system_powerdown');
      } else throw noAgent(spec, `signal ${signal}`);
      return;
    }
    const ok = await request(socketPath(v, 'ctl'), 'K', String(sig), 3000).then(() => true, () => false);
    // An unresponsive guest cannot forward the signal: KILL then means killing the VM itself.
    if (!ok && sig === os.constants.signals.SIGKILL) await killQemu(spec, v);
    else if (!ok) throw new IsolaError('UNAVAILABLE', `the VM's agent did not take signal ${signal}`, 'use isola kill -s KILL to stop the VM itself');
  }

  /**
   * Ends QEMU if it still runs (found by its record, or, when the record was cut short, by its
   * pidfile and its name), then the tap and the cgroup. Without data (create never finished)
   * only the spec's names are known: the tap, the pidfile, the cgroup.
   */
  async cleanup(spec: InstanceSpec, data: VmData | null): Promise<void> {
    const v = data ?? orphanOf(spec);
    if (vmmAlive(spec, v)) {
      if (data && ownOs(data)) recordExit(data, EXIT_VM_KILLED);
      await killQemu(spec, v);
    }
    if (data && data.startedAt !== null) {
      const own = ownOs(data);
      if (own) settleExit(data, own);
    }
    endWatcher(data?.watcher ?? null, spec.id);
    await stopShares(spec.runDir, data?.shares ?? []);
    await deleteTaps(spec.id);
    removeCgroup(vmmCgroupPath(spec.id));
    if (data && data.startedAt !== null && !fs.existsSync(finishedMarker(data)) && readStatus(data.files.status).exitCode === null) {
      exitInfo(data.files.status, finishedMarker(data)); // records when isola saw it gone
    }
    for (const f of [v.files.agent, ...(v.files.agents ?? []), v.files.ctl, v.files.qmp, v.files.pidfile, v.files.tty]) if (f) fs.rmSync(f, { force: true });
  }

  /** Everything of the instance lives in its dir and runDir; the shared base disk stays cached. */
  async remove(spec: InstanceSpec, _data: VmData | null): Promise<void> {
    // Retried: a process waiting for the instance lock may make its lock folder in it meanwhile.
    fs.rmSync(spec.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    fs.rmSync(spec.runDir, { recursive: true, force: true });
  }

  async exec(spec: InstanceSpec, v: VmData, argv: string[], opts: ExecOptions): Promise<number> {
    return this.session(spec, v, {
      argv,
      env: [...spec.env, ...(opts.env ?? [])],
      workdir: opts.workdir ?? spec.workdir,
      user: opts.user ?? spec.user,
    }, opts);
  }

  /**
   * Runs one of the guest init's own programs (isola cp's tar-c, tar-x and stat; src/guest/init.c),
   * chrooted into `root` when given (the hybrid's container), whatever the image holds.
   * Resolves with its exit status and what it wrote to stderr.
   */
  async builtin(spec: InstanceSpec, v: VmData, argv: string[], io: { stdin: Readable | null; stdout: Writable }, root?: string): Promise<{ code: number; stderr: string }> {
    let stderr = '';
    const err = new Writable({ write: (c: Buffer, _e, cb) => { stderr += c.toString(); cb(); } });
    const code = await this.session(spec, v, { argv, env: [], builtin: true, ...(root ? { root } : {}) }, { stdin: io.stdin, stdout: io.stdout, stderr: err });
    return { code, stderr: stderr.trim() };
  }

  /**
   * exec on one of the agent ports from `pick.from` on, waiting at most `pick.waitMs` for one:
   * a session held for a workload's life (a machine's attached client) leaves the ports before
   * `from` to short commands.
   */
  execOnPorts(spec: InstanceSpec, v: VmData, argv: string[], opts: ExecOptions, pick: PortPick): Promise<number> {
    return this.session(spec, v, { argv, env: [...spec.env, ...(opts.env ?? [])], workdir: opts.workdir ?? spec.workdir, user: opts.user ?? spec.user }, opts, pick);
  }

  private async session(spec: InstanceSpec, v: VmData, records: GuestRecords, opts: ExecOptions, pick?: PortPick): Promise<number> {
    const argv = records.argv;
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    if (ownOs(v)) throw noAgent(spec, records.builtin ? 'cp' : 'exec');
    // A free agent port of its own (agent-ports.ts): several sessions run at once.
    const ports = agentPortsOf(v, spec.dir).slice(pick?.from ?? 0);
    if (ports.length === 0) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} has no agent port past isola.agent (it was started before VMs had several)`, 'restart it (isola machine stop, then start)');
    const taken = await openAgentSession(ports, { name: spec.name, ...(pick ? { waitMs: pick.waitMs } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (!taken) return 137; // aborted while every port was busy
    const c = taken.conn;
    const tty = opts.tty;
    const unsubscribe = tty?.onResize((size) => c.send('Z', `${size.rows} ${size.cols}`)) ?? (() => undefined);
    let held = false;
    try {
      c.send('E', encodeRecords({ ...records, ...(tty ? { tty: true, ...(tty.size ? { size: tty.size } : {}) } : {}) }));
      pumpStdin(c, opts.stdin ?? null);
      // Aborted (a health check past its timeout): the guest ends a session whose host side went
      // away by killing its process group.
      let aborted = false;
      const abort = () => {
        aborted = true;
        c.close();
      };
      if (opts.signal?.aborted) abort();
      opts.signal?.addEventListener('abort', abort, { once: true });
      for (;;) {
        const f = await c.next();
        if (!f && aborted) return 137;
        if (!f) throw new IsolaError('INTERNAL', `the VM's agent closed the exec session of ${argv[0]} without an exit status`, 'see isola console; the guest may have stopped');
        if (f.type === 'O') {
          // A slow reader (a tar being unpacked) holds the guest back instead of filling memory here.
          if (!opts.stdout.write(f.payload) && !held) {
            held = true;
            c.socket.pause();
            opts.stdout.once('drain', () => {
              held = false;
              c.socket.resume();
            });
          }
        } else if (f.type === 'E') opts.stderr.write(f.payload);
        else if (f.type === 'X') return Number(f.payload.toString());
        else if (f.type === 'F') {
          const [code, ...msg] = f.payload.toString().split(' ');
          throw code === '127'
            ? new IsolaError('COMMAND_NOT_FOUND', `exec: ${msg.join(' ')} (in the VM)`, 'check the command exists in the image and is on its PATH')
            : new IsolaError('CANNOT_INVOKE', `exec: ${msg.join(' ')} (in the VM)`, 'check the command is an executable file');
        }
      }
    } finally {
      unsubscribe();
      taken.release();
    }
  }

  // ---- isola cp: init's own tar and stat, in the guest (the image needs no tar) ----

  async statPath(spec: InstanceSpec, v: VmData, p: string, follow: boolean, root?: string): Promise<PathKind> {
    let out = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => { out += c.toString(); cb(); } });
    const r = await this.builtin(spec, v, ['stat', p, follow ? '1' : '0'], { stdin: null, stdout: sink }, root);
    const kind = out.trim();
    if (r.code !== 0 || !['dir', 'file', 'symlink', 'other', 'missing'].includes(kind)) throw copyError(r.stderr || `stat ${p} failed`);
    return kind as PathKind;
  }

  async copyOut(spec: InstanceSpec, v: VmData, p: string, out: Writable, opts: { follow: boolean }, root?: string): Promise<void> {
    const r = await this.builtin(spec, v, ['tar-c', p, opts.follow ? '1' : '0'], { stdin: null, stdout: out }, root);
    if (r.code !== 0) throw copyError(r.stderr);
  }

  async copyIn(spec: InstanceSpec, v: VmData, dir: string, input: Readable, opts: { owner?: { uid: number; gid: number } } = {}, root?: string): Promise<void> {
    const owner = opts.owner ? [String(opts.owner.uid), String(opts.owner.gid)] : [];
    const r = await this.builtin(spec, v, ['tar-x', dir, ...owner], { stdin: input, stdout: new Writable({ write: (_c, _e, cb) => cb() }) }, root);
    if (r.code !== 0) throw copyError(r.stderr);
  }

  /** QMP stop: the vCPUs stop, so does everything in the guest (its clock too). */
  async pause(spec: InstanceSpec, v: VmData): Promise<void> {
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    await qmpCommand(socketPath(v, 'qmp'), 'stop').catch((e: Error) => {
      throw new IsolaError('UNAVAILABLE', `QEMU did not pause VM ${spec.name}: ${e.message}`, 'see isola console');
    });
  }

  async resume(spec: InstanceSpec, v: VmData): Promise<void> {
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    await qmpCommand(socketPath(v, 'qmp'), 'cont').catch((e: Error) => {
      throw new IsolaError('UNAVAILABLE', `QEMU did not resume VM ${spec.name}: ${e.message}`, 'see isola console');
    });
  }

  // ---- snapshots: qcow2 internal snapshots of the overlay (snapshot.ts) ----
  snapshotCreate(spec: InstanceSpec, v: VmData, snap: SnapshotRef, now: SnapshotWhile): Promise<{ bytes: number }> {
    return createVmSnapshot(this.ctx.config, spec, v, snap.id, now);
  }

  snapshotRestore(spec: InstanceSpec, v: VmData, snap: SnapshotRef): Promise<void> {
    return restoreVmSnapshot(this.ctx.config, spec, v, snap.id);
  }

  snapshotRemove(spec: InstanceSpec, v: VmData, snap: SnapshotRef, now: SnapshotWhile): Promise<void> {
    return removeVmSnapshot(this.ctx.config, spec, v, snap.id, now);
  }

  /**
   * A VM's RAM and vCPUs are fixed while it runs (microvm has neither memory hotplug nor CPU
   * hotplug, and isola adds no balloon): a running VM's update is refused; a stopped one's takes
   * effect at its next start. A VM has no pids limit to change.
   */
  async update(spec: InstanceSpec, v: VmData, change: ResourceUpdate, running: boolean): Promise<VmData> {
    if (change.pidsLimit !== undefined) {
      throw new IsolaError('INVALID_ARGUMENT', `--pids-limit cannot be updated on VM ${spec.name}: a VM's processes are counted by its own kernel, not a host cgroup`, 'update --memory or --cpus, or use a container or hybrid for a pids limit');
    }
    if (running && vmmAlive(spec, v)) {
      throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is running: its RAM and vCPUs are fixed while it runs (no memory or CPU hotplug on microvm)`, `stop it (isola stop ${spec.name}), update it, and start it again`);
    }
    const next = { ...v };
    if (change.memoryBytes !== undefined) {
      const mem = memoryMiB(change.memoryBytes);
      const min = minMemoryMiB(v.guestKernel);
      if (mem < min) throw new IsolaError('INVALID_ARGUMENT', `-m ${mem}m is below the ${min} MiB the guest kernel needs to boot`, `give the VM at least -m ${min}m`);
      next.memoryMiB = mem;
    }
    if (change.cpus !== undefined) next.cpus = vcpus(change.cpus);
    return next;
  }

  /** The guest's processes (kernel threads left out), as its agent reads them from /proc. */
  async top(spec: InstanceSpec, v: VmData): Promise<ProcessInfo[]> {
    return (await this.guestProcesses(spec, v)).map((p) => p.info);
  }

  /** Every process of the guest with its cgroup, for the hybrid driver to pick its container's. */
  async guestProcesses(spec: InstanceSpec, v: VmData): Promise<{ info: ProcessInfo; cgroup: string }[]> {
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    const f = await request(socketPath(v, 'ctl'), 'L', '', 10_000);
    return parseProcessList(f.payload.toString('utf8'));
  }

  logs(spec: InstanceSpec, v: VmData, opts: LogsOptions): AsyncIterable<LogEntry> {
    // Its own OS writes to the serial console; isola's init frames the workload's output.
    if (ownOs(v)) return readConsoleLog(v.files.console, opts.follow, () => !vmmAlive(spec, v), opts.signal);
    return readK8sLog(v.files.log, opts.follow, () => !vmmAlive(spec, v), opts.signal, [], opts.writerGone);
  }

  /** The guest's /etc/hosts and resolv.conf, rewritten in place by init (the ctl channel's 'T'). */
  async refreshEtc(spec: InstanceSpec, v: VmData): Promise<void> {
    if (!vmmAlive(spec, v)) return;
    const etc = readEtcFiles(spec);
    if (!etc) return;
    const f = await request(socketPath(v, 'ctl'), 'T', encodeRecords({ argv: [], env: [], hosts: etc.hosts, resolv: etc.resolv }), 5000);
    if (f.payload.toString() !== 'ok') throw new IsolaError('INTERNAL', `the VM's init did not take the new /etc files: ${f.payload.toString()}`, 'they reach it at its next start');
  }

  async stats(spec: InstanceSpec, v: VmData): Promise<Stats> {
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    const io = await qmpCommand(socketPath(v, 'qmp'), 'query-blockstats').then(blockBytes, () => null);
    const block = { blockReadBytes: io?.read ?? null, blockWriteBytes: io?.write ?? null };
    if (ownOs(v)) return { time: new Date().toISOString(), ...hostSideStats(v), ...block };
    const f = await request(socketPath(v, 'ctl'), 'S', '', 10_000);
    return {
      time: new Date().toISOString(),
      ...parseGuestStats(f.payload.toString('utf8')),
      hostOverheadBytes: hostOverhead(v.pid, v.memoryMiB * 1024 * 1024),
      ...block,
    };
  }
}

/** A failed copy in the guest, in the words of init's tar (one line). */
function copyError(stderr: string): IsolaError {
  const line = stderr.split('\n').filter(Boolean).pop()?.replace(/^isola-tar: /, '') ?? 'the copy failed';
  return /No such file or directory/.test(line)
    ? new IsolaError('NOT_FOUND', `no such file or folder in the instance: ${line}`, 'check the path (isola exec INSTANCE ls)')
    : new IsolaError('FAILED_PRECONDITION', `the copy in the instance failed: ${line}`, 'check the paths and the free space in the instance');
}

const byDepth = (a: { target: string }, b: { target: string }): number => a.target.split('/').length - b.target.split('/').length;

/** Which agent ports a session may take: those from index `from` on; it waits `waitMs` for one at most. */
export interface PortPick {
  from: number;
  waitMs: number;
}

/** How long `attach` waits for the guest's answer: longer means another client holds the port. */
const ATTACH_TIMEOUT_MS = 5000;

function pumpStdin(c: AgentConnection, stdin: Readable | null): void {
  if (!stdin) {
    c.send('C');
    return;
  }
  stdin.on('data', (d: Buffer | string) => c.sendInput(d, stdin));
  stdin.on('end', () => c.send('C'));
  stdin.on('error', () => c.send('C'));
}

/** Allocated bytes of the image's base disk and of the instance's overlay, for `inspect`. */
export function vmDiskUsage(v: VmData): DiskUsage {
  return diskUsage(v.baseDisk, v.overlay);
}
