import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Capability, ExecOptions, ExitInfo, InstanceSpec, LogEntry, Observed, ProcessInfo, ResourceUpdate, Stats, StoredData } from '../../core/types.js';
import type { Driver, DriverContext } from '../driver.js';
import { IsolaError } from '../../core/errors.js';
import type { Config } from '../../core/config.js';
import { readGuestAssets } from '../../guest/assets.js';
import { cpioArchive } from '../../guest/cpio.js';
import { encodeRecords } from '../../guest/records.js';
import { ensureBridge } from '../../net/bridge.js';
import { createTap, deleteTap } from '../../net/tap.js';
import { run } from '../../util/exec.js';
import { allocatedBytes } from '../../util/fsx.js';
import { findQemu, probeAccelerator } from './accel.js';
import { AgentConnection, request } from './agent.js';
import { createOverlay, diskUsage, ensureBaseDisk, type DiskUsage } from './disk.js';
import { MIN_MEMORY_MIB, memoryMiB, qemuArgs, tscKhzFromCpuinfo, vcpus, type LaunchPlan } from './launch.js';
import { readK8sLog } from '../cri-log.js';
import {
  consoleTail, exitInfo, killQemu, launchJailed, orphanOf, qmpCommand, readStatus, socketPath, vmmAlive, waitGone, waitLaunched,
} from './monitor.js';
import { endWatcher, parseProcessList, startWatcher } from './watch.js';
import { IN_JAIL, handOver, jailArgv, launchFiles, vmmCgroupPath, vmmId, VMM_MEMORY_MARGIN, VMM_PIDS } from './jail.js';
import { createCgroup, removeCgroup } from '../../util/cgroup.js';
import { decodeVmData, type VmData } from './persist.js';
import { hostOverhead, parseGuestStats } from './stats.js';

/**
 * `--as vm`: the image's layers as an ext4 root disk behind a per-instance qcow2 overlay,
 * booted by QEMU (microvm machine, KVM when a real boot probe says it works, TCG otherwise)
 * with Debian's cloud kernel and isola's static init/agent (src/guest/init.c).
 */

function bootTimeoutMs(config: Config, accel: string): number {
  return config.vm.bootTimeoutMs ?? (accel === 'kvm' ? 20_000 : 60_000);
}

const finishedMarker = (v: VmData): string => `${v.files.status}.finished`;

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
    details.machine = 'microvm, qboot firmware (bios-microvm.bin), virtio-mmio';
    const assets = readGuestAssets(this.ctx.config.assets);
    details.guestKernel = assets ? `${assets.kernelVersion} (${assets.kernelPackage})` : 'not set up';
    const v = await probeAccelerator(this.ctx.config);
    details.accelerator = v.accel;
    details.kvm = v.kvmUsable ? `usable (probe booted a guest in ${v.probeMs ?? '?'} ms)` : `not used: ${v.reason}`;
    if (!assets) {
      return { ok: false, reason: 'the guest kernel and init are not set up; run npm run bootstrap (node dist/src/cli/setup.js)', details };
    }
    return { ok: true, details };
  }

  /** The image's layers as the root disk. */
  async create(spec: InstanceSpec): Promise<VmData> {
    this.checkCreate(spec);
    return this.createWithDisk(spec, await ensureBaseDisk(spec.image, this.ctx.cache, this.ctx.config.unpack));
  }

  /** What can be refused before any work is done. */
  private checkCreate(spec: InstanceSpec): void {
    if (spec.devices?.length) throw new IsolaError('INVALID_ARGUMENT', '--device is not available with --as vm: a VM has its own kernel and cannot reach the host\'s devices (isola passes none through)', 'drop --device, or use --as container');
    mustExist(spec.kernel, 'kernel', '--kernel');
    mustExist(spec.initrd, 'initrd', '--initrd');
    const mem = memoryMiB(spec.memoryBytes);
    if (mem < MIN_MEMORY_MIB) {
      throw new IsolaError('INVALID_ARGUMENT', `-m ${mem}m is below the ${MIN_MEMORY_MIB} MiB the guest kernel needs to boot`, `give the VM at least -m ${MIN_MEMORY_MIB}m`);
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
    const accel = await probeAccelerator(this.ctx.config);
    const uid = vmmId(spec.id);
    const state = path.join(spec.dir, 'vm');
    // QEMU runs as its own uid: it owns the folders it writes (state, runtime) and nothing else.
    handOver(uid, [state, spec.runDir], []);
    fs.mkdirSync(this.jailRoot(), { recursive: true, mode: 0o755 });
    const files = launchFiles(state, spec.runDir);

    const overlay = path.join(state, 'disk.qcow2');
    if (!fs.existsSync(overlay)) await createOverlay(this.ctx.config, baseDisk, overlay);

    const initrd = this.writeInitrd(spec, uid);
    handOver(uid, [], [{ path: overlay, mode: 0o600 }]);

    const v: VmData = {
      version: 2,
      accelerator: accel.accel,
      acceleratorReason: accel.reason,
      cpu: accel.accel === 'kvm' ? (accel.cpu ?? 'host') : 'max',
      machine: this.ctx.config.vm.machine,
      memoryMiB: mem,
      cpus: vcpus(spec.cpus),
      kernel: spec.kernel ?? assets?.kernel ?? '',
      kernelVersion: spec.kernel ? 'custom' : (assets?.kernelVersion ?? ''),
      initrd,
      baseDisk,
      overlay,
      files,
      consoleLog: files.console,
      imageDiskBytes: allocatedBytes(baseDisk),
      vmmUid: uid,
      tap: null,
      pid: null,
      pidStartTime: null,
      bootId: null,
      startedAt: null,
      qemuArgv: [],
    };
    return v;
  }

  /**
   * The instance's initrd: the shared initramfs plus its config (argv, env, network, limits).
   * Written again when the config changes (a hybrid's `update`) for the next boot.
   */
  writeInitrd(spec: InstanceSpec, uid: number): string {
    const assets = readGuestAssets(this.ctx.config.assets);
    const net = spec.network.mode === 'bridge' ? spec.network : null;
    const config = encodeRecords({
      argv: spec.argv,
      env: spec.env,
      workdir: spec.workdir,
      user: spec.user,
      hostname: spec.hostname,
      ip: net ? `${net.ip}/${net.prefixLength}` : undefined,
      gateway: net?.gateway,
      readOnly: spec.readOnly,
      limits: (spec.ulimits ?? []).map((u) => `${u.name} ${u.soft} ${u.hard}`),
    });
    const initrd = path.join(spec.dir, 'initrd.cpio');
    const baseInitrd = spec.initrd ?? assets?.initramfs ?? '';
    const tmp = `${initrd}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([
      fs.readFileSync(baseInitrd),
      cpioArchive([{ type: 'dir', name: 'isola' }, { type: 'file', name: 'isola/config', data: config }]),
    ]), { mode: 0o600 });
    // The initrd carries the workload's environment (-e values): readable by this VM's QEMU only.
    handOver(uid, [], [{ path: tmp, mode: 0o400 }]);
    fs.renameSync(tmp, initrd);
    return initrd;
  }

  /** An empty folder every jail mounts its own root on, inside its own mount namespace. */
  private jailRoot(): string {
    return path.join(this.ctx.paths.run, 'vmm-root');
  }

  /** QEMU's command line, with the paths it sees inside its jail. */
  plan(spec: InstanceSpec, v: VmData, extraCmdline: string[] = []): LaunchPlan {
    const net = spec.network.mode === 'bridge' && v.tap ? { mac: spec.network.mac } : null;
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
      files: launchFiles(IN_JAIL.state, IN_JAIL.run),
      net,
      tscKhz: hostTscKhz(),
      extraCmdline: [...extraCmdline, ...this.ctx.config.vm.cmdline],
    };
  }

  async start(spec: InstanceSpec, data: VmData, checkpoint?: (data: VmData) => void): Promise<VmData> {
    const v = { ...data };
    if (vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is already running`, 'stop it first');
    for (const f of [v.files.status, finishedMarker(v), v.files.pidfile, v.files.agent, v.files.ctl, v.files.qmp]) fs.rmSync(f, { force: true });
    try {
      const assets = readGuestAssets(this.ctx.config.assets);
      if (!assets?.vmmJail) throw new IsolaError('UNAVAILABLE', 'the VMM jail (isola-vmm-jail) is not built', 'run npm run bootstrap once');
      if (spec.network.mode === 'bridge') {
        await ensureBridge(spec.network);
        v.tap = await createTap(spec.id, spec.network.bridge, v.vmmUid);
      }
      if (!assets.exitWatch) throw new IsolaError('UNAVAILABLE', 'the VM exit watcher (isola-exit-watch) is not built', 'run npm run bootstrap once');
      const cgroups = createCgroup(vmmCgroupPath(spec.id), {
        memoryBytes: v.memoryMiB * 1024 * 1024 + VMM_MEMORY_MARGIN, pids: VMM_PIDS, cpus: v.cpus + 1,
      });
      const argv = jailArgv({
        jail: assets.vmmJail, root: this.jailRoot(), uid: v.vmmUid, tap: v.tap, kvm: v.accelerator === 'kvm', cgroups,
        kernel: v.kernel, initrd: v.initrd, baseDisk: v.baseDisk, state: path.dirname(v.overlay), run: spec.runDir, qemu: findQemu(this.ctx.config),
      }, qemuArgs(this.plan(spec, v)));
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
      await this.waitStarted(spec, v);
    } catch (e) {
      await this.cleanup(spec, v);
      throw e;
    }
    return v;
  }

  /** Until init reports the workload started (or failed to), QEMU ends, or the boot times out. */
  private async waitStarted(spec: InstanceSpec, v: VmData): Promise<void> {
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
        throw new IsolaError('INTERNAL', `the VM stopped before its workload started; console: ${consoleTail(v.files.console)}`, 'see isola console for the whole boot log');
      }
      if (Date.now() > deadline) {
        throw new IsolaError('TIMEOUT', `the VM's guest did not become ready within ${timeout / 1000} s (${v.accelerator}); console: ${consoleTail(v.files.console)}`,
          'check --kernel/--initrd, or raise ISOLA_VM_BOOT_TIMEOUT_MS on a slow host');
      }
      await sleep(10);
    }
  }

  async observe(spec: InstanceSpec, v: VmData): Promise<Observed> {
    if (v.startedAt === null) return { state: 'created' };
    if (vmmAlive(spec, v)) return { state: 'running', pid: v.pid ?? 0 };
    return { state: 'exited', exit: exitInfo(v.files.status, finishedMarker(v)) };
  }

  async wait(spec: InstanceSpec, v: VmData): Promise<ExitInfo> {
    let exitSeenAt = 0;
    while (vmmAlive(spec, v)) {
      // The guest powers off right after it reports; if QEMU lingers, end it.
      if (!exitSeenAt && readStatus(v.files.status).exitCode !== null) exitSeenAt = Date.now();
      if (exitSeenAt && Date.now() - exitSeenAt > 5000) await killQemu(spec, v);
      await sleep(10);
    }
    return exitInfo(v.files.status, finishedMarker(v));
  }

  async stop(spec: InstanceSpec, v: VmData, timeoutSec: number): Promise<void> {
    if (!vmmAlive(spec, v)) return;
    const asked = await request(socketPath(v, 'ctl'), 'K', String(signalNumber(spec.stopSignal ?? 'TERM')), 3000).then(() => true, () => false);
    if (asked && (await waitGone(spec, v, timeoutSec * 1000))) return;
    await request(socketPath(v, 'ctl'), 'K', String(os.constants.signals.SIGKILL), 2000).catch(() => undefined);
    if (await waitGone(spec, v, 3000)) return;
    await killQemu(spec, v);
  }

  async kill(spec: InstanceSpec, v: VmData, signal: string): Promise<void> {
    const sig = signalNumber(signal);
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
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
    if (vmmAlive(spec, v)) await killQemu(spec, v);
    endWatcher(data?.watcher ?? null, spec.id);
    await deleteTap(spec.id);
    removeCgroup(vmmCgroupPath(spec.id));
    if (data && data.startedAt !== null && !fs.existsSync(finishedMarker(data)) && readStatus(data.files.status).exitCode === null) {
      exitInfo(data.files.status, finishedMarker(data)); // records when isola saw it gone
    }
    for (const f of [v.files.agent, v.files.ctl, v.files.qmp, v.files.pidfile]) fs.rmSync(f, { force: true });
  }

  /** Everything of the instance lives in its dir and runDir; the shared base disk stays cached. */
  async remove(spec: InstanceSpec, _data: VmData | null): Promise<void> {
    fs.rmSync(spec.dir, { recursive: true, force: true });
    fs.rmSync(spec.runDir, { recursive: true, force: true });
  }

  async exec(spec: InstanceSpec, v: VmData, argv: string[], opts: ExecOptions): Promise<number> {
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    const c = await AgentConnection.connect(socketPath(v, 'agent'), 10_000);
    try {
      c.send('E', encodeRecords({
        argv,
        env: [...spec.env, ...(opts.env ?? [])],
        workdir: opts.workdir ?? spec.workdir,
        user: opts.user ?? spec.user,
      }));
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
        if (f.type === 'O') opts.stdout.write(f.payload);
        else if (f.type === 'E') opts.stderr.write(f.payload);
        else if (f.type === 'X') return Number(f.payload.toString());
        else if (f.type === 'F') {
          const [code, ...msg] = f.payload.toString().split(' ');
          throw code === '127'
            ? new IsolaError('COMMAND_NOT_FOUND', `exec: ${msg.join(' ')} (in the VM)`, 'check the command exists in the image and is on its PATH')
            : new IsolaError('CANNOT_INVOKE', `exec: ${msg.join(' ')} (in the VM)`, 'check the command is an executable file');
        }
      }
    } finally {
      c.close();
    }
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
      if (mem < MIN_MEMORY_MIB) throw new IsolaError('INVALID_ARGUMENT', `-m ${mem}m is below the ${MIN_MEMORY_MIB} MiB the guest kernel needs to boot`, `give the VM at least -m ${MIN_MEMORY_MIB}m`);
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
    const f = await request(socketPath(v, 'ctl'), 'T', '', 10_000);
    return parseProcessList(f.payload.toString('utf8'));
  }

  logs(spec: InstanceSpec, v: VmData, opts: { follow: boolean; signal?: AbortSignal }): AsyncIterable<LogEntry> {
    return readK8sLog(v.files.log, opts.follow, () => !vmmAlive(spec, v), opts.signal);
  }

  async stats(spec: InstanceSpec, v: VmData): Promise<Stats> {
    if (!vmmAlive(spec, v)) throw new IsolaError('FAILED_PRECONDITION', `VM ${spec.name} is not running`, 'start it first');
    const f = await request(socketPath(v, 'ctl'), 'S', '', 10_000);
    return {
      time: new Date().toISOString(),
      ...parseGuestStats(f.payload.toString('utf8')),
      hostOverheadBytes: hostOverhead(v.pid, v.memoryMiB * 1024 * 1024),
    };
  }
}

function pumpStdin(c: AgentConnection, stdin: Readable | null): void {
  if (!stdin) {
    c.send('C');
    return;
  }
  stdin.on('data', (d: Buffer | string) => {
    const b = typeof d === 'string' ? Buffer.from(d) : d;
    for (let i = 0; i < b.length; i += 65536) c.send('I', b.subarray(i, i + 65536));
  });
  stdin.on('end', () => c.send('C'));
  stdin.on('error', () => c.send('C'));
}


/** Allocated bytes of the image's base disk and of the instance's overlay, for `inspect`. */
export function vmDiskUsage(v: VmData): DiskUsage {
  return diskUsage(v.baseDisk, v.overlay);
}
