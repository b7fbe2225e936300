import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { collectOutput } from '../../util/collect.js';
import type { AttachIO, AttachSession, Capability, ExecOptions, ExitInfo, InstanceSpec, LogEntry, Observed, ProcessInfo, ResourceUpdate, Stats, StoredData } from '../../core/types.js';
import { CPU_PERIOD, serializeOci } from '../container/launch.js';
import { formatBytes } from '../../core/units.js';
import type { Driver, DriverContext, LogsOptions, SnapshotRef, SnapshotWhile, StartAttach } from '../driver.js';
import { IsolaError } from '../../core/errors.js';
import { VmDriver } from '../vm/driver.js';
import { HYBRID_CRUN_TB_SIZE_MIB } from '../vm/launch.js';
import { ensureUnpacked } from '../container/rootfs.js';
import { resolveUser } from '../container/user.js';
import { probeRuntime, runtimeBinary } from '../container/runtime.js';
import { ensureHybridDisk, guestSystem, GUEST_RUNTIMES, type GuestRuntime } from './disk.js';
import { CONTAINER_STARTED_LINE, EXEC_ON_TERMINAL, GUEST_OVERHEAD_BYTES, guestConfigOf, vmSpecOf } from './launch.js';
import { CONTAINER_ID, GUEST, decodeHybridData, withVm, type HybridData } from './persist.js';
import { consoleEnd, containerState, waitContainerStarted } from './monitor.js';
import type { Readable, Writable } from 'node:stream';
import type { PathKind } from '../../core/types.js';
import { filterGuestRuntimeErrors } from './runtime-errors.js';
import { hybridStats } from './stats.js';

const DEFAULT_VM_MEMORY = 256 * 1024 * 1024;

/**
 * `--as hybrid`: the Kata model. The VM driver boots a guest whose root disk holds busybox, the
 * host's runc with its libraries, and the image as an OCI bundle's rootfs; the guest's workload
 * is a start script that runs the image there as a container, with the host's container
 * config (capabilities, seccomp, masked paths, no-new-privileges, cgroup limits). Exec goes
 * through the VM agent as `runc exec`. Everything else (boot, logs, exit status, stop, stats,
 * cleanup) is the VM driver's.
 */
/**
 * The guest's OCI runtime for an instance: the one --runtime names (crun or runc), else the
 * first of GUEST_RUNTIMES this host has (crun; runc where crun is not installed). Other runtimes
 * (runsc) are refused.
 */
export function guestRuntimeOf(spec: Pick<InstanceSpec, 'runtime'>, installed: (r: GuestRuntime) => boolean = () => true): GuestRuntime {
  if (!spec.runtime) return GUEST_RUNTIMES.find(installed) ?? (GUEST_RUNTIMES[0] as GuestRuntime);
  if ((GUEST_RUNTIMES as readonly string[]).includes(spec.runtime)) return spec.runtime as GuestRuntime;
  throw new IsolaError('INVALID_ARGUMENT', `--runtime ${spec.runtime} is not available inside the hybrid guest`, `the hybrid guest runs ${GUEST_RUNTIMES.join(' or ')}; leave --runtime out or name one of them`);
}

/**
 * The hybrid VM's TCG translation cache: crun is C, so a smaller cache costs it a little start
 * time for much memory; runc's Go runtime keeps being retranslated in one (VmDriver.create), so
 * it keeps QEMU's default (undefined). KVM has no translation cache.
 */
export function hybridTbSizeMiB(accelerator: string, runtime: GuestRuntime): number | undefined {
  return accelerator === 'tcg' && runtime === 'crun' ? HYBRID_CRUN_TB_SIZE_MIB : undefined;
}

export class HybridDriver implements Driver<HybridData> {
  readonly kind = 'hybrid' as const;
  private readonly vm: VmDriver;

  constructor(private readonly ctx: DriverContext) {
    this.vm = new VmDriver(ctx);
  }

  decode(stored: StoredData): HybridData | null {
    return decodeHybridData(stored, (vm) => this.vm.decode(vm));
  }

  async probe(): Promise<Capability> {
    const vm = await this.vm.probe();
    const details: Record<string, string> = { ...vm.details };
    try {
      const sys = await guestSystem(this.ctx.config, this.defaultRuntime());
      const v = await probeRuntime(sys.runtime, this.ctx.config);
      details['guest.runtime'] = `${v.version ?? sys.runtime} from ${sys.runc} (the default; --runtime ${GUEST_RUNTIMES.filter((r) => r !== sys.runtime).join(', ')} asks for the other), with ${sys.libs.map((l) => path.basename(l)).join(', ')}`;
      details['guest.shell'] = sys.busybox;
    } catch (e) {
      return { ok: false, reason: e instanceof IsolaError ? e.oneLine() : String(e), details };
    }
    details['guest.cgroups'] = 'v2, mounted by the start script';
    return vm.ok ? { ok: true, details } : { ok: false, reason: `the VM kind is not usable: ${vm.reason}`, details };
  }

  /** The guest runtime an instance gets without --runtime on this host. */
  private defaultRuntime(): GuestRuntime {
    return guestRuntimeOf({ runtime: '' }, (r) => runtimeBinary(r, this.ctx.config) !== null);
  }

  private vmSpec(spec: InstanceSpec, h: HybridData): InstanceSpec {
    return vmSpecOf(spec, h.vmMemoryBytes);
  }

  /** The guest's config.json, as create wrote it on the host. */
  private static bundleConfig(spec: InstanceSpec): string {
    return path.join(spec.dir, 'bundle', 'config.json');
  }

  async create(spec: InstanceSpec): Promise<HybridData> {
    const sys = await guestSystem(this.ctx.config, guestRuntimeOf(spec, (r) => runtimeBinary(r, this.ctx.config) !== null));
    if (spec.devices?.length) throw new IsolaError('INVALID_ARGUMENT', '--device is not available with --as hybrid: the container runs inside a VM, which cannot reach the host\'s devices', 'drop --device, or use --as container');
    if (spec.init && !sys.tini) throw new IsolaError('UNAVAILABLE', '--init needs tini-static, which is not installed', 'install Debian\'s tini package (npm run bootstrap does)');
    const lower = await ensureUnpacked(spec.image, this.ctx.cache, this.ctx.config.unpack);
    const disk = await ensureHybridDisk(spec.image, this.ctx.cache, sys, this.ctx.config.unpack);
    const vmMemoryBytes = spec.memoryBytes ? spec.memoryBytes + GUEST_OVERHEAD_BYTES : DEFAULT_VM_MEMORY;
    const vmSpec = this.guestVmSpec(spec, lower, vmMemoryBytes);
    const made = await this.vm.createWithDisk(vmSpec, disk);
    const tb = hybridTbSizeMiB(made.accelerator, sys.runtime);
    const vm = tb ? { ...made, tbSizeMiB: tb } : made;
    return withVm({ hybrid: 1, vm, rootfs: lower, disk, vmMemoryBytes }, vm);
  }

  /**
   * The VM's spec: the start script with the guest's config.json as its argument. The host keeps
   * a copy of that config.json: what the runtime was given, for inspect --security.
   */
  private guestVmSpec(spec: InstanceSpec, rootfs: string, vmMemoryBytes: number): InstanceSpec {
    const config = guestConfigOf(spec, rootfs);
    const bundle = path.join(spec.dir, 'bundle');
    fs.mkdirSync(bundle, { recursive: true });
    fs.writeFileSync(HybridDriver.bundleConfig(spec), serializeOci(config, 2), { mode: 0o600 }); // it holds the -e values
    return vmSpecOf(spec, vmMemoryBytes);
  }

  /**
   * With `attach`, the client gets the start script's streams: the runc in the guest relays the
   * container's terminal (or stdin and output) to them, so the client sees the container's.
   */
  async start(spec: InstanceSpec, data: HybridData, checkpoint?: (data: HybridData) => void, attach?: StartAttach): Promise<HybridData> {
    // The guest's workload: the start script with the container's config.json, as written (its
    // unlimited rlimits are uint64s JSON.parse would round); the VM puts it in its initrd at each start.
    const config = fs.readFileSync(HybridDriver.bundleConfig(spec), 'utf8');
    const vmSpec = vmSpecOf(spec, data.vmMemoryBytes, ['/bin/sh', GUEST.start, config]);
    // The console file is kept across starts: this start's marker is what comes after its end now.
    const consoleFrom = consoleEnd(data.vm.files.console);
    const h = withVm(data, await this.vm.start(vmSpec, data.vm, checkpoint ? (vm) => checkpoint(withVm(data, vm)) : undefined, attach));
    try {
      await waitContainerStarted(this.vm, vmSpec, h.vm, 60_000, { hooked: config.includes(CONTAINER_STARTED_LINE), consoleFrom });
    } catch (e) {
      await this.vm.cleanup(vmSpec, h.vm);
      throw e;
    }
    return h;
  }

  attach(spec: InstanceSpec, h: HybridData, io: AttachIO): Promise<AttachSession> {
    return this.vm.attach(this.vmSpec(spec, h), h.vm, io);
  }

  observe(spec: InstanceSpec, h: HybridData): Promise<Observed> {
    return this.vm.observe(this.vmSpec(spec, h), h.vm);
  }

  wait(spec: InstanceSpec, h: HybridData): Promise<ExitInfo> {
    return this.vm.wait(this.vmSpec(spec, h), h.vm);
  }

  /** SIGTERM reaches the start script, which passes it to runc, which passes it to the container. */
  stop(spec: InstanceSpec, h: HybridData, timeoutSec: number): Promise<void> {
    return this.vm.stop(this.vmSpec(spec, h), h.vm, timeoutSec);
  }

  kill(spec: InstanceSpec, h: HybridData, signal: string): Promise<void> {
    return this.vm.kill(this.vmSpec(spec, h), h.vm, signal);
  }

  cleanup(spec: InstanceSpec, h: HybridData | null): Promise<void> {
    return h ? this.vm.cleanup(this.vmSpec(spec, h), h.vm) : this.vm.cleanup(spec, null);
  }

  async remove(spec: InstanceSpec, h: HybridData | null): Promise<void> {
    if (h) await this.vm.remove(this.vmSpec(spec, h), h.vm);
    // Retried: a process waiting for the instance lock may make its lock folder in it meanwhile.
    fs.rmSync(spec.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    fs.rmSync(spec.runDir, { recursive: true, force: true });
  }

  async exec(spec: InstanceSpec, h: HybridData, argv: string[], opts: ExecOptions): Promise<number> {
    // With -t, `runc exec --tty` runs on the guest terminal the agent allocates and relays the
    // container's own terminal to it (window sizes follow through SIGWINCH).
    const args = [GUEST.runc, '--root', GUEST.runcRoot, 'exec', ...(opts.tty ? ['--tty'] : []), '--cwd', opts.workdir || spec.workdir || '/'];
    // An exec that may be aborted records its pid in the guest: ending the agent session ends
    // runc exec, and the command it started in the container is then killed by that pid. On a
    // terminal the pid also serves window size changes (EXEC_ON_TERMINAL).
    const pidFile = opts.signal || opts.tty ? `${GUEST.bundle}/exec-${process.pid}-${Math.random().toString(36).slice(2)}.pid` : null;
    if (pidFile) args.push('--pid-file', pidFile);
    for (const e of opts.env ?? []) args.push('--env', e);
    if (opts.user) {
      const u = resolveUser(h.rootfs, opts.user);
      args.push('--user', `${u.uid}:${u.gid}`);
    }
    args.push(CONTAINER_ID, ...argv);
    if (opts.tty && pidFile) args.unshift('/bin/sh', '-c', EXEC_ON_TERMINAL, 'sh', pidFile);
    // runc's own error lines (a command it cannot start) come on stderr, or with a terminal on it.
    const filter = filterGuestRuntimeErrors(opts.tty ? opts.stdout : opts.stderr, 'in the hybrid guest');
    const code = await this.vm.exec(this.vmSpec(spec, h), h.vm, args, opts.tty ? { ...opts, stdout: filter.sink } : { ...opts, stderr: filter.sink });
    if (pidFile) {
      const kill = opts.signal?.aborted ? `[ -f ${pidFile} ] && kill -9 "$(cat ${pidFile})" 2>/dev/null; ` : '';
      await collectOutput((io) => this.vm.exec(this.vmSpec(spec, h), h.vm, ['/bin/sh', '-c', `${kill}rm -f ${pidFile}`], { ...io, stdin: null })).catch(() => undefined);
    }
    const err = filter.error(code);
    if (err) throw err;
    return code;
  }

  // ---- snapshots: the guest's disk holds the container's root too, so the VM's own way serves ----
  snapshotCreate(spec: InstanceSpec, h: HybridData, snap: SnapshotRef, now: SnapshotWhile): Promise<{ bytes: number }> {
    return this.vm.snapshotCreate(this.vmSpec(spec, h), h.vm, snap, now);
  }

  snapshotRestore(spec: InstanceSpec, h: HybridData, snap: SnapshotRef): Promise<void> {
    return this.vm.snapshotRestore(this.vmSpec(spec, h), h.vm, snap);
  }

  snapshotRemove(spec: InstanceSpec, h: HybridData, snap: SnapshotRef, now: SnapshotWhile): Promise<void> {
    return this.vm.snapshotRemove(this.vmSpec(spec, h), h.vm, snap, now);
  }

  pause(spec: InstanceSpec, h: HybridData): Promise<void> {
    return this.vm.pause(this.vmSpec(spec, h), h.vm);
  }

  resume(spec: InstanceSpec, h: HybridData): Promise<void> {
    return this.vm.resume(this.vmSpec(spec, h), h.vm);
  }

  /**
   * The container's cgroup limits inside the guest: `runc update` there while it runs (within
   * the RAM the VM was booted with), and the guest's config for its next boot, which gets the
   * RAM the new limit needs.
   */
  async update(spec: InstanceSpec, h: HybridData, change: ResourceUpdate, running: boolean): Promise<HybridData> {
    const vmSpec = this.vmSpec(spec, h);
    if (running) {
      if (change.memoryBytes !== undefined && change.memoryBytes + GUEST_OVERHEAD_BYTES > h.vmMemoryBytes) {
        throw new IsolaError('FAILED_PRECONDITION', `memory limit ${formatBytes(change.memoryBytes)} does not fit in the ${formatBytes(h.vmMemoryBytes)} guest of running instance ${spec.name} (it needs ${formatBytes(GUEST_OVERHEAD_BYTES)} for itself)`,
          `give at most ${formatBytes(h.vmMemoryBytes - GUEST_OVERHEAD_BYTES)}, or stop it first: a stopped hybrid's guest grows to fit`);
      }
      const cg = '/sys/fs/cgroup/isola/workload';
      const now = await collectOutput((io) => this.vm.exec(vmSpec, h.vm, ['/bin/sh', '-c', `cat ${cg}/memory.current ${cg}/pids.current`], { ...io, stdin: null }));
      const [mem = 0, pids = 0] = now.stdout.trim().split(/\s+/).map(Number);
      if (change.memoryBytes !== undefined && change.memoryBytes < mem) {
        throw new IsolaError('INVALID_ARGUMENT', `memory limit ${formatBytes(change.memoryBytes)} is below the ${formatBytes(mem)} instance ${spec.name} uses now`, `give at least ${formatBytes(mem)}, or stop it first`);
      }
      if (change.pidsLimit !== undefined && change.pidsLimit < pids) {
        throw new IsolaError('INVALID_ARGUMENT', `pids limit ${change.pidsLimit} is below the ${pids} processes instance ${spec.name} runs now`, `give at least ${pids}`);
      }
      const args = [GUEST.runc, '--root', GUEST.runcRoot, 'update'];
      if (change.memoryBytes !== undefined) args.push('--memory', String(change.memoryBytes));
      if (change.cpus !== undefined) args.push('--cpu-period', String(CPU_PERIOD), '--cpu-quota', String(Math.round(change.cpus * CPU_PERIOD)));
      if (change.pidsLimit !== undefined) args.push('--pids-limit', String(change.pidsLimit));
      const r = await collectOutput((io) => this.vm.exec(vmSpec, h.vm, [...args, CONTAINER_ID], { ...io, stdin: null }));
      if (r.code !== 0) throw new IsolaError('INTERNAL', `runc update in the hybrid guest failed: ${r.stderr.trim().split('\n').pop() ?? r.code}`, 'see isola console');
    }
    const next: InstanceSpec = { ...spec, ...change };
    const vmMemoryBytes = running ? h.vmMemoryBytes : Math.max(h.vmMemoryBytes, next.memoryBytes ? next.memoryBytes + GUEST_OVERHEAD_BYTES : DEFAULT_VM_MEMORY);
    const nextVmSpec = this.guestVmSpec(next, h.rootfs, vmMemoryBytes);
    // The VM writes its config (the start script's config.json among it) at each start.
    const vm = running ? h.vm : await this.vm.update(nextVmSpec, h.vm, { memoryBytes: vmMemoryBytes, ...(change.cpus !== undefined ? { cpus: change.cpus } : {}) }, false);
    return withVm({ ...h, vmMemoryBytes }, vm);
  }

  /** The container's processes: the guest's, in the container's cgroup. */
  async top(spec: InstanceSpec, h: HybridData): Promise<ProcessInfo[]> {
    const all = await this.vm.guestProcesses(this.vmSpec(spec, h), h.vm);
    return all.filter((p) => p.cgroup === '/isola/workload' || p.cgroup.startsWith('/isola/workload/')).map((p) => p.info);
  }

  logs(spec: InstanceSpec, h: HybridData, opts: LogsOptions): AsyncIterable<LogEntry> {
    return this.vm.logs(this.vmSpec(spec, h), h.vm, opts);
  }

  /** The guest's /etc files are the container's too: the VM's refresh reaches both. */
  refreshEtc(spec: InstanceSpec, h: HybridData): Promise<void> {
    return this.vm.refreshEtc(this.vmSpec(spec, h), h.vm);
  }

  async stats(spec: InstanceSpec, h: HybridData): Promise<Stats> {
    return hybridStats(await this.vm.stats(this.vmSpec(spec, h), h.vm), spec.memoryBytes);
  }

  /** isola cp: init's own tar in the guest, chrooted into the container's root (its mounts included). */
  private async containerRoot(spec: InstanceSpec, h: HybridData): Promise<string> {
    let st = await containerState(this.vm, this.vmSpec(spec, h), h.vm);
    // Right after start runc may still be between create and start.
    for (let i = 0; i < 50 && st?.status === 'created'; i++) {
      await sleep(100);
      st = await containerState(this.vm, this.vmSpec(spec, h), h.vm);
    }
    if (!st || st.status !== 'running' || !st.pid) throw new IsolaError('FAILED_PRECONDITION', `the container of ${spec.name} is not running in its guest`, 'isola cp copies in and out of running instances; start it first');
    return `/proc/${st.pid}/root`;
  }

  async statPath(spec: InstanceSpec, h: HybridData, p: string, follow: boolean): Promise<PathKind> {
    return this.vm.statPath(this.vmSpec(spec, h), h.vm, p, follow, await this.containerRoot(spec, h));
  }

  async copyOut(spec: InstanceSpec, h: HybridData, p: string, out: Writable, opts: { follow: boolean }): Promise<void> {
    return this.vm.copyOut(this.vmSpec(spec, h), h.vm, p, out, opts, await this.containerRoot(spec, h));
  }

  async copyIn(spec: InstanceSpec, h: HybridData, dir: string, input: Readable, opts: { owner?: { uid: number; gid: number } } = {}): Promise<void> {
    return this.vm.copyIn(this.vmSpec(spec, h), h.vm, dir, input, opts, await this.containerRoot(spec, h));
  }

  /** Runs the script in the guest, outside the container, about the container's init process. */
  async runOnWorkloadKernel(spec: InstanceSpec, h: HybridData, script: string): Promise<string> {
    const find = `P=$(${GUEST.runc} --root ${GUEST.runcRoot} state ${CONTAINER_ID} | sed -n 's/^ *"pid": *\\([0-9]*\\).*/\\1/p'); exec /bin/sh -c "$1" sh "$P"`;
    const r = await collectOutput((io) => this.vm.exec(this.vmSpec(spec, h), h.vm, ['/bin/sh', '-c', find, 'sh', script], { ...io, stdin: null }));
    return r.stdout;
  }
}
