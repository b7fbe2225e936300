import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { AttachIO, AttachSession, BridgeNetworkSpec, Capability, ExecOptions, ExitInfo, InstanceSpec, Observed, ProcessInfo, ResourceUpdate, Stats, StoredData } from '../../core/types.js';
import type { Driver, DriverContext, LogsOptions, SnapshotRef, SnapshotWhile, StartAttach } from '../driver.js';
import { IsolaError } from '../../core/errors.js';
import { run } from '../../util/exec.js';
import { which } from '../../util/which.js';
import { processAlive, processRef, signalProcess, type ProcessRef } from '../../util/process.js';
import { readPidFile } from '../../util/fsx.js';
import { removeCgroup } from '../../util/cgroup.js';
import { attachVeth, createNetns, detachVeth, removeNetns, setDefaultRoute } from '../../net/veth.js';
import { ensureEtcFiles } from '../../net/etc-files.js';
import { hostVethName } from '../../net/names.js';
import { CPU_PERIOD, INIT_PATH, ociConfig, serializeOci } from './launch.js';
import { processInfo } from '../../util/procfs.js';
import { formatBytes } from '../../core/units.js';
import { decodeContainerData, filesOf, runtimeRootOf, type ContainerData } from './persist.js';
import { ensureUnpacked, isMounted, mountOverlay, unmount } from './rootfs.js';
import { resolveUser } from './user.js';
import { seccompFor } from './seccomp.js';
import { effectiveCaps, processBoundingCaps } from '../../core/caps.js';
import { chooseRuntime, probeRuntime, runtimeBinary, RUNTIMES } from './runtime.js';
import { conmonPath, exitInfo, filterRuncErrors, readExit, runtimeError, startConmon, waitForExitFile } from './monitor.js';
import { cgroupFile, cgroupVersion, containerStats, oomKills, pssBytes } from './stats.js';
import { readK8sLog } from '../cri-log.js';
import { startsThroughFifo, startThroughExecFifo } from './exec-fifo.js';
import type { Readable, Writable } from 'node:stream';
import type { PathKind } from '../../core/types.js';
// Loaded where used, not at start: the modules of attach, copy, diff, export and snapshot are
// not on the path of `run` (each is a few more files to load before a container can start).
const attachMod = () => import('./attach.js');
const copyMod = () => import('./copy.js');


/**
 * Containers: an OCI runtime (runc by default) under conmon, on an overlay of the image
 * unpacked once per digest, in new pid, mount, ipc, uts, net and cgroup namespaces.
 */
export class ContainerDriver implements Driver<ContainerData> {
  readonly kind = 'container' as const;

  constructor(private readonly ctx: DriverContext) {}

  decode(stored: StoredData): ContainerData | null {
    return decodeContainerData(stored);
  }

  async probe(): Promise<Capability> {
    const details: Record<string, string> = {};
    let ok = false;
    for (const name of RUNTIMES) {
      const v = await probeRuntime(name, this.ctx.config);
      details[`runtime.${name}`] = v.usable ? `usable (${v.version})` : `not usable: ${v.reason}`;
      if (v.usable && name !== 'runsc') ok = true;
    }
    const conmon = this.ctx.config.bin.conmon ?? which('conmon', this.ctx.config.searchPath);
    details.conmon = conmon ? (await run(conmon, ['--version'])).stdout.split('\n')[0] ?? conmon : 'not installed';
    details.cgroups = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : fs.existsSync('/sys/fs/cgroup/unified') ? 'v1 + v2 (hybrid)' : 'v1';
    if (!conmon) return { ok: false, reason: 'conmon is not installed; install it (npm run bootstrap does)', details };
    return ok ? { ok, details } : { ok, reason: 'no OCI runtime works here; install runc (npm run bootstrap does)', details };
  }

  async create(spec: InstanceSpec): Promise<ContainerData> {
    conmonPath(this.ctx.config); // fail before doing any work when the monitor is missing
    if (spec.init) tiniPath(this.ctx.config.searchPath);
    const runtime = await chooseRuntime(spec.runtime || undefined, this.ctx.config);
    const f = filesOf(spec);
    const lower = await ensureUnpacked(spec.image, this.ctx.cache, this.ctx.config.unpack);
    const data: ContainerData = {
      runtime: runtime.path ?? runtime.name,
      runtimeRoot: runtimeRootOf(this.ctx.paths.run, runtime.name),
      rootfs: f.rootfs,
      netns: null,
      // Flat, not under a shared /isola parent: runc delete then removes all of it, and no
      // cleanup can race a parallel create for an empty parent.
      cgroupsPath: `/isola-${spec.id}`,
    };
    try {
      const user = resolveUser(lower, spec.user);
      fs.mkdirSync(f.bundle, { recursive: true });
      fs.mkdirSync(f.etc, { recursive: true });
      // Written by the engine (and rewritten in place as the instance's networks change); made
      // from the spec alone when a driver is used without it.
      ensureEtcFiles(spec);
      const etcFiles = { hostname: path.join(f.etc, 'hostname'), hosts: path.join(f.etc, 'hosts'), resolv: path.join(f.etc, 'resolv.conf') };
      const boundingCaps = processBoundingCaps();
      const caps = effectiveCaps(spec.security.capAdd, spec.security.capDrop, spec.security.privileged, boundingCaps);
      const seccomp = seccompFor(spec.security, caps);
      await mountOverlay(lower, f.upper, f.work, f.rootfs);
      data.netns = await createNetns(spec.id, spec.network, spec.moreNetworks ?? []);
      const config = ociConfig({
        spec, rootfs: f.rootfs, ...user, netnsPath: data.netns, seccomp, etcFiles,
        cgroupsPath: data.cgroupsPath,
        boundingCaps,
        nofile: hostNofileLimit(),
        swapAccounting: swapAccounting(),
        ...(spec.init ? { initBinary: tiniPath(this.ctx.config.searchPath) } : {}),
      });
      fs.writeFileSync(f.config, serializeOci(config, 2), { mode: 0o600 }); // it holds the -e values
      return data;
    } catch (e) {
      await this.cleanup(spec, data);
      throw e;
    }
  }

  async start(spec: InstanceSpec, data: ContainerData, checkpoint?: (data: ContainerData) => void, attach?: StartAttach): Promise<ContainerData> {
    const attachLib = attach ? await attachMod() : null;
    const relay = attach && attachLib ? attachLib.ttyRelayPath(this.ctx.config) : null; // refused before anything starts
    const ready = await this.prepareAgain(spec, data);
    // Detached instances clean up after themselves through conmon's exit command; a foreground
    // `run` does it itself as soon as it sees the exit, which keeps the start path short.
    const { pid, conmonPid } = await startConmon(this.ctx.config, spec, ready.runtime, ready.runtimeRoot, true);
    const ref = processRef(conmonPid);
    const started: ContainerData = { ...ready, pid, conmonPid, ...(ref ? { conmonStartTime: ref.startTime, bootId: ref.bootId } : {}) };
    checkpoint?.(started);
    // The container exists but has not run yet (runc create): a client attached now misses nothing.
    const session = attach && relay && attachLib ? await attachLib.attachConmon(relay, filesOf(spec).bundle, attach, !!spec.tty) : null;
    try {
      // runc's own start is its exec fifo opened and read (exec-fifo.ts): done here, one process fewer.
      if (startsThroughFifo(data.runtime)) await startThroughExecFifo(data.runtimeRoot, spec.id, pid);
      else {
        const r = await run(data.runtime, ['--root', data.runtimeRoot, 'start', spec.id]);
        if (r.code !== 0) throw runtimeError(r.stderr);
      }
    } catch (e) {
      session?.close();
      throw e;
    }
    if (session) attach?.attached(session);
    return started;
  }

  async attach(spec: InstanceSpec, data: ContainerData, io: AttachIO): Promise<AttachSession> {
    if (this.monitorAlive(spec, data) === null) throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} is not running`, 'start it first; isola logs shows what it wrote');
    const { attachConmon, ttyRelayPath } = await attachMod();
    return attachConmon(ttyRelayPath(this.ctx.config), filesOf(spec).bundle, io, !!spec.tty);
  }

  /**
   * A container that ran before (start of an exited instance, a restart) gets back what its
   * cleanup released: the overlay (same upper directory: its files are as it left them), the
   * network namespace (same address), and no exit status or runtime state of the last run.
   */
  private async prepareAgain(spec: InstanceSpec, data: ContainerData): Promise<ContainerData> {
    const f = filesOf(spec);
    fs.rmSync(f.exitFile, { force: true });
    fs.rmSync(f.conmonPidFile, { force: true });
    if (!data.conmonPid) return data; // never started: create left everything in place
    await run(data.runtime, ['--root', data.runtimeRoot, 'delete', '--force', spec.id]).catch(() => undefined);
    const fresh: ContainerData = { runtime: data.runtime, runtimeRoot: data.runtimeRoot, rootfs: data.rootfs, netns: data.netns, cgroupsPath: data.cgroupsPath };
    try {
      if (!isMounted(f.rootfs)) await mountOverlay(await ensureUnpacked(spec.image, this.ctx.cache, this.ctx.config.unpack), f.upper, f.work, f.rootfs);
      if (spec.network.mode === 'bridge' && !(data.netns && fs.existsSync(data.netns))) fresh.netns = await createNetns(spec.id, spec.network);
    } catch (e) {
      await this.cleanup(spec, fresh);
      throw e;
    }
    return fresh;
  }

  /**
   * The instance's monitor, if it is still that process: as recorded (pid, start time, boot),
   * or, when the record was cut short, from the pidfile conmon writes, if its command line
   * names this instance.
   */
  private monitorAlive(spec: InstanceSpec, data: ContainerData | null): ProcessRef | null {
    if (data?.conmonPid && data.conmonStartTime !== undefined && data.bootId) {
      const ref = { pid: data.conmonPid, startTime: data.conmonStartTime, bootId: data.bootId };
      return processAlive(ref) ? ref : null;
    }
    const pid = data?.conmonPid ?? readPidFile(filesOf(spec).conmonPidFile);
    return processAlive(pid, { cmdlineIncludes: spec.id }) ? processRef(pid) : null;
  }

  async observe(spec: InstanceSpec, data: ContainerData): Promise<Observed> {
    const exit = readExit(spec);
    if (exit) return { state: 'exited', exit: exitInfo(exit.code, exit.at, this.oomKilled(data, exit.code)) };
    const monitor = this.monitorAlive(spec, data);
    if (monitor) return { state: 'running', pid: data.pid ?? 0 };
    if (!data.conmonPid) return { state: 'created' };
    // The monitor is gone without a status (killed from outside): the workload went with it.
    return { state: 'exited', exit: exitInfo(255, new Date(), false) };
  }

  private oomKilled(data: ContainerData, code: number): boolean {
    return code === 137 && oomKills(data.cgroupsPath) > 0;
  }

  async wait(spec: InstanceSpec, data: ContainerData): Promise<ExitInfo> {
    const e = await waitForExitFile(spec, () => this.monitorAlive(spec, data) !== null);
    return exitInfo(e.code, e.at, this.oomKilled(data, e.code));
  }

  async kill(spec: InstanceSpec, data: ContainerData, signal: string): Promise<void> {
    const sig = signal.toUpperCase().replace(/^SIG/, '');
    if (!(`SIG${sig}` in os.constants.signals) && !/^\d+$/.test(sig)) throw new IsolaError('INVALID_ARGUMENT', `unknown signal "${signal}"`, 'use for example TERM, KILL or HUP');
    await run(data.runtime, ['--root', data.runtimeRoot, 'kill', '--all', spec.id, sig]);
  }

  async stop(spec: InstanceSpec, data: ContainerData, timeoutSec: number): Promise<void> {
    if (this.monitorAlive(spec, data) === null) return;
    await this.kill(spec, data, spec.stopSignal ?? 'TERM');
    const exited = await Promise.race([
      waitForExitFile(spec, () => this.monitorAlive(spec, data) !== null).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), timeoutSec * 1000).unref()),
    ]);
    if (!exited) {
      await this.kill(spec, data, 'KILL');
      await waitForExitFile(spec, () => this.monitorAlive(spec, data) !== null);
    }
  }

  async cleanup(spec: InstanceSpec, data: ContainerData | null): Promise<void> {
    // Without data (create never finished) every runtime that holds state for the id is asked.
    const runtimes = data
      ? [{ bin: data.runtime, root: data.runtimeRoot }]
      : RUNTIMES.map((name) => ({ bin: runtimeBinary(name, this.ctx.config), root: runtimeRootOf(this.ctx.paths.run, name) }))
        .filter((r): r is { bin: string; root: string } => r.bin !== null && fs.existsSync(path.join(r.root, spec.id)));
    const runtime = async () => {
      for (const r of runtimes) await run(r.bin, ['--root', r.root, 'delete', '--force', spec.id]).catch(() => undefined);
      signalProcess(this.monitorAlive(spec, data), 'SIGKILL');
      // runc delete removes the cgroup; one a runtime killed mid-create left behind goes here.
      removeCgroup(data?.cgroupsPath ?? `/isola-${spec.id}`);
    };
    // The three are independent, so they run at once (the exit path of run --rm waits for all):
    // the unmount is lazy (a workload still inside, killed by the delete, keeps its view until
    // it is gone), and a network namespace file removed under a process leaves it its namespace.
    await Promise.all([runtime(), unmount(filesOf(spec).rootfs), removeNetns(spec.id)]);
  }

  async remove(spec: InstanceSpec, _data: ContainerData | null): Promise<void> {
    // Retried: a process waiting for the instance lock may make its lock folder in it meanwhile.
    fs.rmSync(spec.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    fs.rmSync(spec.runDir, { recursive: true, force: true });
  }

  async exec(spec: InstanceSpec, data: ContainerData, argv: string[], opts: ExecOptions): Promise<number> {
    if (this.monitorAlive(spec, data) === null) throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} is not running`, `start it first, or use isola run`);
    const execArgs = ['--cwd', opts.workdir || spec.workdir || '/'];
    for (const e of opts.env ?? []) execArgs.push('--env', e);
    if (opts.user) {
      const u = resolveUser(data.rootfs, opts.user);
      execArgs.push('--user', `${u.uid}:${u.gid}`);
    }
    // A command that may be aborted (a health check past its timeout) is killed by its host pid:
    // SIGKILL to runc exec itself would leave the command running in the container.
    const pidFile = opts.signal && !opts.tty ? path.join(spec.runDir, `exec-${process.pid}-${Math.random().toString(36).slice(2)}.pid`) : null;
    if (pidFile) execArgs.push('--pid-file', pidFile);
    execArgs.push(spec.id, ...argv);
    if (opts.tty) {
      const { execOnTerminal, execSessionDir, ttyRelayPath } = await attachMod();
      return execOnTerminal({
        relay: ttyRelayPath(this.ctx.config), runtime: [data.runtime, '--root', data.runtimeRoot], execArgs,
        sessionDir: execSessionDir(spec.runDir), tty: opts.tty, stdin: opts.stdin ?? null, stdout: opts.stdout, stderr: opts.stderr,
      });
    }
    const args = ['--root', data.runtimeRoot, 'exec', ...execArgs];
    return new Promise((resolve, reject) => {
      const child = spawn(data.runtime, args, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      const abort = () => {
        const pid = pidFile ? readPidFile(pidFile) : null;
        if (pid) signalProcess(processRef(pid), 'SIGKILL');
        child.kill('SIGKILL');
      };
      if (opts.signal?.aborted) abort();
      opts.signal?.addEventListener('abort', abort, { once: true });
      // runc reports a command it cannot start on its own stderr; keep it out of the workload's.
      const filter = filterRuncErrors(opts.stderr);
      child.stdout?.pipe(opts.stdout, { end: false });
      child.stderr?.pipe(filter.sink);
      if (opts.stdin && child.stdin) opts.stdin.pipe(child.stdin);
      child.on('error', reject);
      child.on('close', (code) => {
        opts.signal?.removeEventListener('abort', abort);
        if (pidFile) fs.rmSync(pidFile, { force: true });
        const e = filter.error();
        if (e) reject(e);
        else resolve(opts.signal?.aborted ? 137 : (code ?? 255));
      });
    });
  }

  async pause(spec: InstanceSpec, data: ContainerData): Promise<void> {
    this.mustRun(spec, data);
    const r = await run(data.runtime, ['--root', data.runtimeRoot, 'pause', spec.id]);
    if (r.code !== 0) throw runtimeError(r.stderr);
  }

  async resume(spec: InstanceSpec, data: ContainerData): Promise<void> {
    this.mustRun(spec, data);
    const r = await run(data.runtime, ['--root', data.runtimeRoot, 'resume', spec.id]);
    if (r.code !== 0) throw runtimeError(r.stderr);
  }

  private mustRun(spec: InstanceSpec, data: ContainerData): void {
    if (this.monitorAlive(spec, data) === null) throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} is not running`, 'start it first');
  }

  /**
   * New cgroup limits: on a running container through `runc update` (after checking that the
   * workload does not already use more), and in config.json for its next start.
   */
  async update(spec: InstanceSpec, data: ContainerData, change: ResourceUpdate, running: boolean): Promise<ContainerData> {
    if (running && this.monitorAlive(spec, data) !== null) {
      const now = containerStats(data.cgroupsPath, null, null);
      if (change.memoryBytes !== undefined && change.memoryBytes < now.memoryBytes) {
        throw new IsolaError('INVALID_ARGUMENT', `memory limit ${formatBytes(change.memoryBytes)} is below the ${formatBytes(now.memoryBytes)} instance ${spec.name} uses now`, `give at least ${formatBytes(now.memoryBytes)}, or stop it first`);
      }
      if (change.pidsLimit !== undefined && now.pids !== null && change.pidsLimit < now.pids) {
        throw new IsolaError('INVALID_ARGUMENT', `pids limit ${change.pidsLimit} is below the ${now.pids} processes instance ${spec.name} runs now`, `give at least ${now.pids}`);
      }
      const args = ['--root', data.runtimeRoot, 'update'];
      if (change.memoryBytes !== undefined) {
        args.push('--memory', String(change.memoryBytes));
        if (swapAccounting()) args.push('--memory-swap', String(change.memoryBytes));
      }
      if (change.cpus !== undefined) args.push('--cpu-period', String(CPU_PERIOD), '--cpu-quota', String(Math.round(change.cpus * CPU_PERIOD)));
      if (change.pidsLimit !== undefined) args.push('--pids-limit', String(change.pidsLimit));
      const r = await run(data.runtime, [...args, spec.id]);
      if (r.code !== 0) throw runtimeError(r.stderr);
    }
    const file = filesOf(spec).config;
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as { linux: { resources: Record<string, unknown> } };
    const res = config.linux.resources;
    if (change.memoryBytes !== undefined) res.memory = { limit: change.memoryBytes, ...(swapAccounting() ? { swap: change.memoryBytes } : {}) };
    if (change.cpus !== undefined) res.cpu = { quota: Math.round(change.cpus * CPU_PERIOD), period: CPU_PERIOD };
    if (change.pidsLimit !== undefined) res.pids = { limit: change.pidsLimit };
    fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
    return data;
  }

  /** The container's processes (runc ps: the pids in its cgroup), read from the host's /proc. */
  async top(spec: InstanceSpec, data: ContainerData): Promise<ProcessInfo[]> {
    this.mustRun(spec, data);
    const r = await run(data.runtime, ['--root', data.runtimeRoot, 'ps', '--format', 'json', spec.id]);
    if (r.code !== 0) throw runtimeError(r.stderr);
    const pids = JSON.parse(r.stdout || '[]') as number[];
    return pids.map((p) => processInfo(p)).filter((p): p is ProcessInfo => p !== null).sort((a, b) => a.pid - b.pid);
  }

  logs(spec: InstanceSpec, data: ContainerData, opts: LogsOptions) {
    const f = filesOf(spec);
    // The exit folder is watched too: a foreground run's output ends the moment conmon records
    // the exit, not up to one poll (50 ms) later.
    return readK8sLog(f.log, opts.follow, () => readExit(spec) !== null || this.monitorAlive(spec, data) === null, opts.signal, [f.exitDir], opts.writerGone);
  }

  /** The overlay's upper directory as an OCI layer; the container may be running or stopped. */
  async exportChanges(spec: InstanceSpec, _data: ContainerData, tarFile: string): Promise<void> {
    const f = filesOf(spec);
    const staging = path.join(spec.dir, `changes-${process.pid}`);
    try {
      const { exportChanges } = await import('./changes.js');
      await exportChanges(f.upper, staging, tarFile, this.ctx.config.searchPath, ['etc/hostname', 'etc/hosts', 'etc/resolv.conf', INIT_PATH.slice(1)]);
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }

  /** The image's root with the container's changes, as a tar (export-fs.ts). */
  async exportFs(spec: InstanceSpec, _data: ContainerData, out: Writable): Promise<void> {
    const lower = await ensureUnpacked(spec.image, this.ctx.cache, this.ctx.config.unpack);
    const { exportRootfs } = await import('./export-fs.js');
    await exportRootfs(lower, filesOf(spec).upper, path.join(spec.dir, `export-${process.pid}-${Date.now()}`), out, [INIT_PATH.slice(1)]);
  }

  // ---- snapshots: a copy of the upper directory (snapshot.ts) ----
  async snapshotCreate(spec: InstanceSpec, data: ContainerData, snap: SnapshotRef, now: SnapshotWhile): Promise<{ bytes: number }> {
    // Frozen while copied, so no file is caught half written (one the user paused stays paused).
    if (now === 'running') await this.pause(spec, data);
    try {
      const { keepUpper } = await import('./snapshot.js');
      return { bytes: await keepUpper(filesOf(spec).upper, snap.dir) };
    } finally {
      if (now === 'running') await this.resume(spec, data);
    }
  }

  async snapshotRestore(spec: InstanceSpec, _data: ContainerData, snap: SnapshotRef): Promise<void> {
    const f = filesOf(spec);
    // A created container has its overlay mounted already: taken down around the swap, so the
    // overlay never sees its upper directory change under it.
    const mounted = isMounted(f.rootfs);
    if (mounted) await unmount(f.rootfs);
    const { restoreUpper } = await import('./snapshot.js');
    await restoreUpper(f.upper, f.work, snap.dir);
    if (mounted) await mountOverlay(await ensureUnpacked(spec.image, this.ctx.cache, this.ctx.config.unpack), f.upper, f.work, f.rootfs);
  }

  async snapshotRemove(_spec: InstanceSpec, _data: ContainerData, snap: SnapshotRef): Promise<void> {
    fs.rmSync(snap.dir, { recursive: true, force: true });
  }

  /** The container's root as the host sees it, with its mounts; the container paused while fn runs. */
  private async inRoot<T>(spec: InstanceSpec, data: ContainerData, fn: (root: string) => Promise<T>): Promise<T> {
    if (this.monitorAlive(spec, data) === null || !data.pid) {
      throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} is not running`, 'isola cp copies in and out of running instances; start it first');
    }
    const paused = await run(data.runtime, ['--root', data.runtimeRoot, 'pause', spec.id]);
    try {
      return await fn(`/proc/${data.pid}/root`);
    } finally {
      if (paused.code === 0) await run(data.runtime, ['--root', data.runtimeRoot, 'resume', spec.id]);
    }
  }

  async statPath(spec: InstanceSpec, data: ContainerData, p: string, follow: boolean): Promise<PathKind> {
    const { kindOf, resolveInside } = await copyMod();
    return this.inRoot(spec, data, async (root) => kindOf(resolveInside(root, p, follow)));
  }

  async copyOut(spec: InstanceSpec, data: ContainerData, p: string, out: Writable, opts: { follow: boolean }): Promise<void> {
    const { tarOut } = await copyMod();
    return this.inRoot(spec, data, (root) => tarOut(root, p, out, opts.follow));
  }

  async copyIn(spec: InstanceSpec, data: ContainerData, dir: string, input: Readable, opts: { owner?: { uid: number; gid: number } } = {}): Promise<void> {
    const { tarIn } = await copyMod();
    return this.inRoot(spec, data, (root) => tarIn(root, dir, input, opts.owner));
  }

  /** `network connect` while it runs: one more veth into its namespace. */
  async attachNetwork(spec: InstanceSpec, data: ContainerData, net: BridgeNetworkSpec): Promise<void> {
    if (!data.netns) throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} has no network namespace`, 'it was made with --network none');
    await attachVeth(spec.id, net, false);
  }

  async detachNetwork(spec: InstanceSpec, data: ContainerData, net: BridgeNetworkSpec, newFirst: BridgeNetworkSpec | null): Promise<void> {
    await detachVeth(spec.id, net.ifname ?? 'eth0');
    if (newFirst && data.netns) await setDefaultRoute(spec.id, newFirst);
  }

  async stats(spec: InstanceSpec, data: ContainerData): Promise<Stats> {
    if (this.monitorAlive(spec, data) === null) throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} is not running`, 'stats are only available for running instances');
    const veth = spec.network.mode === 'bridge' ? hostVethName(spec.id, spec.network.ifname) : null;
    return containerStats(data.cgroupsPath, veth, data.conmonPid ? pssBytes(data.conmonPid) : null);
  }
}

function swapAccounting(): boolean {
  return cgroupVersion() === 1 && fs.existsSync(cgroupFile('', 'memory', 'memory.memsw.limit_in_bytes'));
}

/** The static tini that --init mounts as /sbin/docker-init (static: the image may have no libc). */
function tiniPath(searchPath: readonly string[]): string {
  const p = which('tini-static', searchPath);
  if (!p) throw new IsolaError('UNAVAILABLE', '--init needs tini-static, which is not installed', 'install Debian\'s tini package (npm run bootstrap does)');
  return p;
}

/** The hard open-files limit isola itself runs under: a container cannot be given more. */
function hostNofileLimit(): number {
  const m = /Max open files\s+\d+\s+(\d+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return Math.min(1048576, Number(m?.[1] ?? 1024));
}

