import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import type { AttachIO, AttachSession, BridgeNetworkSpec, Capability, ExecOptions, ExitInfo, InstanceSpec, LogEntry, Observed, PathKind, ProcessInfo, Stats, StoredData } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import { openDb, type Db } from '../../state/db.js';
import { MachineRepo, type MachineRecord } from '../../state/machines.js';
import { processAlive } from '../../util/process.js';
import type { DriverContext, LogsOptions, StartAttach } from '../driver.js';
import { VmDriver } from '../vm/driver.js';
import type { VmData } from '../vm/persist.js';
import { serializeOci } from '../container/launch.js';
import { ensureUnpacked } from '../container/rootfs.js';
import { resolveUser } from '../container/user.js';
import { conmonStdioArgs, filterRuncErrors, runtimeError } from '../container/monitor.js';
import { readK8sLog } from '../cri-log.js';
import { guestConfigOf, GUEST_SHARES } from '../hybrid/launch.js';
import { guestRun } from '../vm/guest-run.js';
import { machineVm, sharesVolumes } from './host.js';
import { MACHINE_GUEST } from './guest.js';
import { mountVolumes, unmountVolumes } from './volumes.js';
import { attachPlaced, type PlacedTarget } from './terminals.js';
import { noTerminals, servesTerminals } from './terminal-mark.js';
import { ensureEtcFiles, type EtcFiles } from '../../net/etc-files.js';
import { guestNetDown, guestVethFor, moreNetArgs } from './guest-net.js';
import { connectRunning, disconnectRunning, userNetworksDown, userNetworksUp } from './networks.js';

/** What a container placed in a machine remembers; the machine itself is found by spec.machine. */
export type PlacedData = {
  placed: 1;
  /** The image unpacked on the host (the shared cache), which the machine's image share serves. */
  rootfs: string;
  /** When it was last started, and the machine's boot it was started in (a new boot ends it). */
  startedAt: string | null;
  machineStartedAt: string | null;
  /** Where ps, inspect and console look in every kind: the machine's VMM. */
  pid?: number | null;
  consoleLog?: string;
  accelerator?: string;
};

export function decodePlacedData(d: StoredData): PlacedData | null {
  if (d.placed !== 1 || typeof d.rootfs !== 'string') return null;
  const s = (x: unknown) => (typeof x === 'string' ? x : null);
  return { placed: 1, rootfs: d.rootfs, startedAt: s(d.startedAt), machineStartedAt: s(d.machineStartedAt),
    ...(typeof d.pid === 'number' ? { pid: d.pid } : {}), ...(typeof d.consoleLog === 'string' ? { consoleLog: d.consoleLog } : {}), ...(typeof d.accelerator === 'string' ? { accelerator: d.accelerator } : {}) };
}

/** The host folder a container's config, CRI log and exit file live in: inside the machine's share. */
export function containerShare(machine: MachineRecord, id: string): string {
  return path.join(machine.spec.dir, 'c', id);
}

const R = (...args: string[]) => [MACHINE_GUEST.runc, '--root', MACHINE_GUEST.runcRoot, ...args];

/** The guest's end of a container's veth pair (15 characters at most). */
export function vethInGuest(id: string): string {
  return `c${id.slice(0, 12)}`;
}

/**
 * What the start script is told of the container's network: `-` (it shares the machine's, as
 * containers placed before they had their own), `none` (its own namespace, loopback only), or
 * its veth's name in the guest, its address/prefix, the gateway and its MAC.
 */
export function placedNetArgs(spec: InstanceSpec): string[] {
  if (!spec.machine?.netns) return ['-'];
  const n = spec.network;
  // On a user network, its veth is a `u...` one, which the guest routes to the host only (guest-net.ts).
  return n.mode === 'bridge' ? [(n.networkId ?? 'bridge') === 'bridge' ? vethInGuest(spec.id) : guestVethFor(spec.id, n, true), `${n.ip}/${n.prefixLength}`, n.gateway, n.mac] : ['none'];
}

/** The file names of an instance's /etc files, in its folder and in its machine share's `etc/`. */
const ETC_NAMES = [['hostname', 'hostname'], ['hosts', 'hosts'], ['resolv', 'resolv.conf']] as const;

/**
 * A container with its own network namespace reads its own /etc/hostname, hosts and resolv.conf
 * (its name and address, --add-host, --dns*), the ones the engine writes in its instance folder
 * (net/etc-files.ts, as for every kind): copied into its folder of the machine's share, which
 * runc in the guest binds read-only over the image's. Written in place (same inodes), so a bind
 * of a running container sees a rewrite; unchanged files are left alone.
 */
export function copyEtcToShare(files: EtcFiles, share: string): void {
  const dir = path.join(share, 'etc');
  fs.mkdirSync(dir, { recursive: true });
  for (const [key, name] of ETC_NAMES) {
    const file = path.join(dir, name);
    let old: string | null = null;
    try {
      old = fs.readFileSync(file, 'utf8');
    } catch {
      /* new */
    }
    if (old !== files[key]) fs.writeFileSync(file, files[key], { mode: 0o644 });
  }
}

/** The config's binds of /etc/hostname, hosts and resolv.conf pointed at the container's copies in the guest. */
export function pointEtcMounts(config: Record<string, unknown>, id: string): void {
  const at = new Map<string, string>(ETC_NAMES.map(([, name]) => [`/etc/${name}`, `${MACHINE_GUEST.shared}/${id}/etc/${name}`]));
  let n = 0;
  for (const mt of config.mounts as { destination: string; source?: string }[]) {
    const src = at.get(mt.destination);
    if (src && mt.source === mt.destination) {
      mt.source = src;
      n++;
    }
  }
  if (n !== at.size) throw new IsolaError('INTERNAL', `the in-guest config binds ${n} of the ${at.size} /etc files of ${id} from the guest`, 'report this bug');
}

/**
 * Containers placed in a machine (`run --machine`, kind hybrid): each under runc in the
 * machine's guest, with its own pid, mount, ipc, uts and cgroup namespaces and cgroup
 * (/isola/<id> in the guest), its overlay on the image root the machine shares once for all its
 * containers, and conmon in the guest writing its CRI log and exit file into the folder the host
 * shares with the machine, so logs and exit statuses are read on the host as for a container.
 * Its network namespace is its own: an address on isola0 the machine routes to it (see
 * CONTAINER_START_SCRIPT), or loopback only.
 */
export class PlacedDriver {
  readonly kind = 'hybrid' as const;
  private readonly vm: VmDriver;
  private db: Db | null = null;

  constructor(private readonly ctx: DriverContext) {
    this.vm = new VmDriver(ctx);
  }

  decode(stored: StoredData): PlacedData | null {
    return decodePlacedData(stored);
  }

  probe(): Promise<Capability> {
    return this.vm.probe();
  }

  private machine(spec: InstanceSpec): MachineRecord {
    if (!spec.machine) throw new IsolaError('INTERNAL', `instance ${spec.name} is not placed in a machine`, 'report this bug');
    this.db ??= openDb(this.ctx.paths.db);
    const m = new MachineRepo(this.db).get(spec.machine.id);
    if (!m) throw new IsolaError('NOT_FOUND', `machine ${spec.machine.name} of instance ${spec.name} no longer exists`, 'remove the instance with isola rm -f');
    return m;
  }

  /** The machine and its VM when it runs (and `boot`, when given, is the boot it runs in); else null. */
  private running(spec: InstanceSpec, boot?: string | null): { m: MachineRecord; v: VmData } | null {
    let m: MachineRecord;
    try {
      m = this.machine(spec);
    } catch {
      return null;
    }
    const v = this.vm.decode(m.data);
    if (!v || v.startedAt === null || !v.pid || !processAlive({ pid: v.pid, startTime: v.pidStartTime ?? 0, bootId: v.bootId ?? '' })) return null;
    if (boot !== undefined && boot !== null && v.startedAt !== boot) return null;
    return { m, v };
  }

  private mustRun(spec: InstanceSpec, p: PlacedData): { m: MachineRecord; v: VmData } {
    const r = this.running(spec, p.machineStartedAt);
    if (!r || !p.startedAt || this.exitOf(spec)) throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} is not running`, 'start it first (isola start)');
    return r;
  }

  private exitFile(spec: InstanceSpec): string | null {
    try {
      return path.join(containerShare(this.machine(spec), spec.id), 'exit', spec.id);
    } catch {
      return null;
    }
  }

  private exitOf(spec: InstanceSpec): ExitInfo | null {
    const f = this.exitFile(spec);
    if (!f) return null;
    try {
      const text = fs.readFileSync(f, 'utf8').trim();
      if (text === '') return null;
      return { exitCode: Number(text), oomKilled: false, finishedAt: fs.statSync(f).mtime.toISOString() };
    } catch {
      return null;
    }
  }

  async create(spec: InstanceSpec): Promise<PlacedData> {
    const m = this.machine(spec);
    if (spec.runtime && spec.runtime !== 'runc') throw new IsolaError('INVALID_ARGUMENT', `--runtime ${spec.runtime} is not available in a machine`, 'a machine\'s guest runs runc; leave --runtime out');
    if (spec.devices?.length) throw new IsolaError('INVALID_ARGUMENT', '--device is not available with --machine: the container runs inside a VM, which cannot reach the host\'s devices', 'drop --device');
    if ((spec.tty || spec.stdinOpen) && !servesTerminals(m.spec.dir)) throw noTerminals(m.name, spec.tty ? '-t' : '-i');
    if ((spec.mounts ?? []).some((x) => x.type !== 'tmpfs') && !sharesVolumes(m.spec)) {
      throw new IsolaError('INVALID_ARGUMENT', `machine ${m.name} was made before volumes reached machines: it shares no volume folder, so -v and --mount of host folders or volumes are refused`, `recreate the machine (isola machine rm -f ${m.name}; isola machine create ${m.name}), or use --tmpfs`);
    }
    const rootfs = await ensureUnpacked(spec.image, this.ctx.cache, this.ctx.config.unpack);
    const config = guestConfigOf(spec, rootfs);
    (config.root as { path: string }).path = `${MACHINE_GUEST.bundles}/${spec.id}/rootfs`;
    (config.linux as { cgroupsPath: string }).cgroupsPath = `/isola/${spec.id}`;
    // guestConfig leaves the network namespace out (a hybrid container has the VM's NIC); here it has its own.
    // guestConfig binds the guest's /etc files (a hybrid's VM is its own); with its own namespace, its own files.
    if (spec.machine?.netns) {
      (config.linux as { namespaces: { type: string }[] }).namespaces.push({ type: 'network' });
      pointEtcMounts(config, spec.id);
    }
    // Its host folders: bound on the host under the machine's volume folder when it starts (volumes.ts).
    for (const mt of config.mounts as { source?: string }[]) {
      if (mt.source?.startsWith(`${GUEST_SHARES}/`)) mt.source = `${MACHINE_GUEST.volumes}/${spec.id}/${mt.source.slice(GUEST_SHARES.length + 1)}`;
    }
    const text = serializeOci(config, 2);
    const share = containerShare(m, spec.id);
    fs.mkdirSync(path.join(share, 'exit'), { recursive: true });
    if (spec.machine?.netns) copyEtcToShare(ensureEtcFiles(spec), share);
    fs.writeFileSync(path.join(share, 'config.json'), text, { mode: 0o600 }); // it holds the -e values
    // The host's copy: what the runtime was given, for inspect --security (as the hybrid keeps it).
    fs.mkdirSync(path.join(spec.dir, 'bundle'), { recursive: true });
    fs.writeFileSync(path.join(spec.dir, 'bundle', 'config.json'), text, { mode: 0o600 });
    return { placed: 1, rootfs, startedAt: null, machineStartedAt: null };
  }

  /**
   * With `attach` (run -i/-t), the start script stops at `runc create`: the client attaches to
   * conmon in the guest (terminals.ts), then `runc start` runs, so the client misses nothing.
   */
  async start(spec: InstanceSpec, p: PlacedData, checkpoint?: (data: PlacedData) => void, attach?: StartAttach): Promise<PlacedData> {
    const r = this.running(spec);
    if (!r) throw new IsolaError('FAILED_PRECONDITION', `machine ${spec.machine?.name ?? '?'} is not running`, `start it first: isola machine start ${spec.machine?.name ?? 'NAME'}`);
    if ((attach || spec.tty || spec.stdinOpen) && !servesTerminals(r.m.spec.dir)) throw noTerminals(r.m.name, attach ? 'a client attached at start' : spec.tty ? '-t' : '-i');
    const next: PlacedData = { ...p, startedAt: null, machineStartedAt: r.v.startedAt, pid: r.v.pid, consoleLog: r.v.consoleLog, accelerator: r.v.accelerator };
    checkpoint?.(next); // cleanup then knows the boot to clean in, were this process to die now
    const exitFile = this.exitFile(spec);
    if (exitFile) fs.rmSync(exitFile, { force: true });
    await mountVolumes(r.m.spec.dir, spec);
    await userNetworksUp(this.vm, r.m, r.v, spec); // the host routes its user-network addresses to the machine
    if (spec.machine?.netns) copyEtcToShare(ensureEtcFiles(spec), containerShare(r.m, spec.id)); // as they are now
    const hex = path.basename(p.rootfs);
    const extra = [...(spec.logMaxBytes ? ['--log-size-max', String(spec.logMaxBytes)] : []), ...conmonStdioArgs(spec)].join(' ');
    const out = await guestRun(this.vm, r.m.spec, r.v, ['/bin/sh', MACHINE_GUEST.start, spec.id, hex, spec.name, extra, ...placedNetArgs(spec), ...moreNetArgs(spec)], attach ? ['CTR_CREATE_ONLY=1'] : []);
    if (out.code !== 0) {
      await this.cleanup(spec, next).catch(() => undefined);
      const msg = out.stderr.trim().split('\n').pop() ?? `status ${out.code}`;
      const e = runtimeError(msg);
      throw e.code === 'COMMAND_NOT_FOUND' || e.code === 'CANNOT_INVOKE' ? e : new IsolaError('INTERNAL', `the container could not start in machine ${spec.machine?.name ?? ''}: ${msg}`, 'see the machine\'s console (isola machine inspect)');
    }
    if (attach) await this.attachThenStart(spec, next, r, attach);
    return { ...next, startedAt: new Date().toISOString() };
  }

  /** The created container: its client attached to conmon, then runc start; on failure nothing is left running. */
  private async attachThenStart(spec: InstanceSpec, next: PlacedData, r: { m: MachineRecord; v: VmData }, attach: StartAttach): Promise<void> {
    let session: AttachSession | null = null;
    try {
      session = await attachPlaced(this.target(spec, r), attach);
      const res = await this.runc(spec, r, ['start', spec.id]);
      if (res.code !== 0) throw runtimeError(res.stderr.trim().split('\n').pop() ?? `status ${res.code}`);
    } catch (e) {
      session?.close();
      await this.cleanup(spec, next).catch(() => undefined);
      throw e;
    }
    attach.attached(session);
  }

  private target(spec: InstanceSpec, r: { m: MachineRecord; v: VmData }): PlacedTarget {
    return { vm: this.vm, spec: r.m.spec, v: r.v, machine: r.m.name, id: spec.id, name: spec.name, tty: !!spec.tty };
  }

  /** `isola attach`: a client on conmon's attach socket in the guest (terminals.ts). */
  async attach(spec: InstanceSpec, p: PlacedData, io: AttachIO): Promise<AttachSession> {
    const r = this.mustRun(spec, p);
    if (!servesTerminals(r.m.spec.dir)) throw noTerminals(r.m.name, 'isola attach');
    return attachPlaced(this.target(spec, r), io);
  }

  async observe(spec: InstanceSpec, p: PlacedData): Promise<Observed> {
    if (p.startedAt === null && p.machineStartedAt === null) return { state: 'created' };
    const exit = this.exitOf(spec);
    if (exit) return { state: 'exited', exit };
    const r = this.running(spec, p.machineStartedAt);
    if (r && p.startedAt) return { state: 'running', pid: r.v.pid ?? 0 };
    if (r && !p.startedAt) return { state: 'created' }; // starting
    // The machine stopped or booted again without the container writing its exit: killed with it.
    return { state: 'exited', exit: { exitCode: 137, oomKilled: false, finishedAt: new Date().toISOString() } };
  }

  async wait(spec: InstanceSpec, p: PlacedData): Promise<ExitInfo> {
    for (;;) {
      const o = await this.observe(spec, p);
      if (o.state === 'exited') return o.exit;
      await sleep(50);
    }
  }

  private async runc(spec: InstanceSpec, r: { m: MachineRecord; v: VmData }, args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
    return guestRun(this.vm, r.m.spec, r.v, R(...args));
  }

  async stop(spec: InstanceSpec, p: PlacedData, timeoutSec: number): Promise<void> {
    const r = this.running(spec, p.machineStartedAt);
    if (!r || this.exitOf(spec)) return;
    await this.runc(spec, r, ['kill', spec.id, (spec.stopSignal ?? 'TERM').replace(/^SIG/, '')]);
    const until = (ms: number) => this.exitWithin(spec, p, ms);
    if (await until(timeoutSec * 1000)) return;
    await this.runc(spec, r, ['kill', spec.id, 'KILL']);
    await until(5000);
  }

  private async exitWithin(spec: InstanceSpec, p: PlacedData, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      if ((await this.observe(spec, p)).state === 'exited') return true;
      if (Date.now() > end) return false;
      await sleep(50);
    }
  }

  async kill(spec: InstanceSpec, p: PlacedData, signal: string): Promise<void> {
    const r = this.mustRun(spec, p);
    const res = await this.runc(spec, r, ['kill', spec.id, signal.replace(/^SIG/, '')]);
    if (res.code !== 0) throw new IsolaError('FAILED_PRECONDITION', `runc kill in machine ${r.m.name} failed: ${res.stderr.trim().split('\n').pop() ?? ''}`, 'check the signal name, and that the instance runs');
  }

  /** In the guest: the runc container and its bundle (the upper layer stays, for a restart). */
  async cleanup(spec: InstanceSpec, p: PlacedData | null): Promise<void> {
    if (!spec.machine) return;
    await userNetworksDown(spec);
    const r = this.running(spec, p?.machineStartedAt ?? undefined);
    if (!r) return this.unbind(spec);
    const b = `${MACHINE_GUEST.bundles}/${spec.id}`;
    // The veth pair goes with the container's namespace; one left by a start that failed half-way goes here.
    const veth = spec.machine.netns ? `ip link del ${vethInGuest(spec.id)} 2>/dev/null; ${guestNetDown(spec)}` : '';
    await guestRun(this.vm, r.m.spec, r.v, ['/bin/sh', '-c', `${R('delete', '-f', spec.id).join(' ')} >/dev/null 2>&1; ${veth}umount ${b}/rootfs 2>/dev/null; rm -rf ${b}; exit 0`]).catch(() => undefined);
    await this.unbind(spec);
  }

  /** Its host folders' binds under the machine's volume folder (made at start). */
  private async unbind(spec: InstanceSpec): Promise<void> {
    if (!(spec.mounts ?? []).some((x) => x.type !== 'tmpfs')) return;
    let dir: string;
    try {
      dir = this.machine(spec).spec.dir;
    } catch {
      return; // the machine is gone, and its binds with its cleanup
    }
    await unmountVolumes(dir, spec.id);
  }

  /** Its upper layer in the guest (a stopped machine drops it at its next boot), its folder in the share, its own folders. */
  async remove(spec: InstanceSpec, _p: PlacedData | null): Promise<void> {
    if (spec.machine) {
      await this.unbind(spec);
      const r = this.running(spec);
      if (r) await guestRun(this.vm, r.m.spec, r.v, ['/bin/sh', '-c', `rm -rf ${MACHINE_GUEST.layers}/${spec.id}`]).catch(() => undefined);
      try {
        fs.rmSync(containerShare(this.machine(spec), spec.id), { recursive: true, force: true });
      } catch {
        /* the machine is gone, and its folder with it */
      }
    }
    fs.rmSync(spec.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    fs.rmSync(spec.runDir, { recursive: true, force: true });
  }

  async exec(spec: InstanceSpec, p: PlacedData, argv: string[], opts: ExecOptions): Promise<number> {
    const r = this.mustRun(spec, p);
    const args = R('exec', ...(opts.tty ? ['--tty'] : []), '--cwd', opts.workdir || spec.workdir || '/');
    const pidFile = opts.signal ? `${MACHINE_GUEST.bundles}/${spec.id}/exec-${process.pid}-${Math.random().toString(36).slice(2)}.pid` : null;
    if (pidFile) args.push('--pid-file', pidFile);
    for (const e of opts.env ?? []) args.push('--env', e);
    if (opts.user) {
      const u = resolveUser(p.rootfs, opts.user);
      args.push('--user', `${u.uid}:${u.gid}`);
    }
    args.push(spec.id, ...argv);
    const filter = filterRuncErrors(opts.tty ? opts.stdout : opts.stderr, `in machine ${r.m.name}`);
    const code = await this.vm.exec(r.m.spec, r.v, args, opts.tty ? { ...opts, stdout: filter.sink } : { ...opts, stderr: filter.sink });
    if (pidFile) {
      const kill = opts.signal?.aborted ? `[ -f ${pidFile} ] && kill -9 "$(cat ${pidFile})" 2>/dev/null; ` : '';
      await guestRun(this.vm, r.m.spec, r.v, ['/bin/sh', '-c', `${kill}rm -f ${pidFile}`]).catch(() => undefined);
    }
    const err = filter.error();
    if (err) throw err;
    return code;
  }

  logs(spec: InstanceSpec, p: PlacedData, opts: LogsOptions): AsyncIterable<LogEntry> {
    const file = path.join(containerShare(this.machine(spec), spec.id), 'ctr.log');
    return readK8sLog(file, opts.follow, () => this.exitOf(spec) !== null || this.running(spec, p.machineStartedAt) === null, opts.signal, [], opts.writerGone);
  }

  async stats(spec: InstanceSpec, p: PlacedData): Promise<Stats> {
    const r = this.mustRun(spec, p);
    const cg = `/sys/fs/cgroup/isola/${spec.id}`;
    const out = await guestRun(this.vm, r.m.spec, r.v, ['/bin/sh', '-c', `cat ${cg}/memory.current ${cg}/memory.max ${cg}/pids.current; grep usage_usec ${cg}/cpu.stat`]);
    const [mem, max, pids, cpu] = out.stdout.trim().split('\n');
    return {
      time: new Date().toISOString(),
      cpuNanos: Number(/(\d+)/.exec(cpu ?? '')?.[1] ?? 0) * 1000,
      memoryBytes: Number(mem ?? 0),
      memoryLimitBytes: max && max !== 'max' ? Number(max) : null,
      pids: pids ? Number(pids) : null,
      netRxBytes: null,
      netTxBytes: null,
      hostOverheadBytes: null,
    };
  }

  async pause(spec: InstanceSpec, p: PlacedData): Promise<void> {
    const r = this.mustRun(spec, p);
    const res = await this.runc(spec, r, ['pause', spec.id]);
    if (res.code !== 0) throw new IsolaError('INTERNAL', `runc pause in machine ${r.m.name} failed: ${res.stderr.trim()}`, 'see isola machine inspect');
  }

  async resume(spec: InstanceSpec, p: PlacedData): Promise<void> {
    const r = this.mustRun(spec, p);
    const res = await this.runc(spec, r, ['resume', spec.id]);
    if (res.code !== 0) throw new IsolaError('INTERNAL', `runc resume in machine ${r.m.name} failed: ${res.stderr.trim()}`, 'see isola machine inspect');
  }

  update(spec: InstanceSpec): Promise<PlacedData> {
    return Promise.reject(new IsolaError('FAILED_PRECONDITION', `isola update is not available for ${spec.name}, a container in machine ${spec.machine?.name ?? ''}`, 'remove it and run it again with the new limits'));
  }

  async top(spec: InstanceSpec, p: PlacedData): Promise<ProcessInfo[]> {
    const r = this.mustRun(spec, p);
    const all = await this.vm.guestProcesses(r.m.spec, r.v);
    const cg = `/isola/${spec.id}`;
    return all.filter((x) => x.cgroup === cg || x.cgroup.startsWith(`${cg}/`)).map((x) => x.info);
  }

  /** The container's root as its init process sees it (its mounts included), for isola cp. */
  private async containerRoot(spec: InstanceSpec, p: PlacedData): Promise<{ root: string; m: MachineRecord; v: VmData }> {
    const r = this.mustRun(spec, p);
    const out = await this.runc(spec, r, ['state', spec.id]);
    const pid = /"pid":\s*(\d+)/.exec(out.stdout)?.[1];
    if (!pid || pid === '0') throw new IsolaError('FAILED_PRECONDITION', `the container of ${spec.name} is not running in machine ${r.m.name}`, 'start it first');
    return { root: `/proc/${pid}/root`, ...r };
  }

  async statPath(spec: InstanceSpec, p: PlacedData, at: string, follow: boolean): Promise<PathKind> {
    const c = await this.containerRoot(spec, p);
    return this.vm.statPath(c.m.spec, c.v, at, follow, c.root);
  }

  async copyOut(spec: InstanceSpec, p: PlacedData, at: string, out: Writable, opts: { follow: boolean }): Promise<void> {
    const c = await this.containerRoot(spec, p);
    return this.vm.copyOut(c.m.spec, c.v, at, out, opts, c.root);
  }

  async copyIn(spec: InstanceSpec, p: PlacedData, dir: string, input: Readable, opts: { owner?: { uid: number; gid: number } } = {}): Promise<void> {
    const c = await this.containerRoot(spec, p);
    return this.vm.copyIn(c.m.spec, c.v, dir, input, opts, c.root);
  }

  async runOnWorkloadKernel(spec: InstanceSpec, p: PlacedData, script: string): Promise<string> {
    const r = this.mustRun(spec, p);
    const find = `P=$(${R('state', spec.id).join(' ')} | sed -n 's/^ *"pid": *\\([0-9]*\\).*/\\1/p'); exec /bin/sh -c "$1" sh "$P"`;
    return (await guestRun(this.vm, r.m.spec, r.v, ['/bin/sh', '-c', find, 'sh', script])).stdout;
  }

  /**
   * Its /etc files as the instance folder has them now (the engine rewrote them). A container
   * placed before it had its own network namespace reads the machine's: nothing to refresh.
   */
  async refreshEtc(spec: InstanceSpec): Promise<void> {
    if (!spec.machine?.netns) return;
    const files = ensureEtcFiles(spec);
    try {
      copyEtcToShare(files, containerShare(this.machine(spec), spec.id));
    } catch {
      /* its machine is gone: nothing reads them */
    }
  }

  /** `network connect`: a running container gets the interface now; a created one at its start. */
  async attachNetwork(spec: InstanceSpec, p: PlacedData, n: BridgeNetworkSpec): Promise<void> {
    const r = this.running(spec, p.machineStartedAt);
    if (r && p.startedAt && !this.exitOf(spec)) await connectRunning(this.vm, r.m, r.v, spec, n);
  }

  /** `network disconnect`: a running container loses the interface now. */
  async detachNetwork(spec: InstanceSpec, p: PlacedData, n: BridgeNetworkSpec, newFirst: BridgeNetworkSpec | null): Promise<void> {
    const r = this.running(spec, p.machineStartedAt);
    if (r && p.startedAt && !this.exitOf(spec)) await disconnectRunning(this.vm, r.m, r.v, spec, n, newFirst, [vethInGuest(spec.id), guestVethFor(spec.id, n, true)]);
    else await userNetworksDown(spec, n);
  }

  /** The machine's VM, for the engine's memory check and inspect. */
  machineVm(spec: InstanceSpec): VmData {
    return machineVm(this.vm, this.machine(spec).data);
  }
}
