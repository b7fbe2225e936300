import fs from 'node:fs';
import path from 'node:path';
import { collectOutput } from '../../util/collect.js';
import type { Capability, Driver, DriverData, ExecOptions, ExitInfo, InstanceSpec, LogEntry, Observed, Stats } from '../driver.js';
import { IsolaError } from '../../spec/errors.js';
import { effectiveCaps } from '../../spec/caps.js';
import { vmDriver } from '../vm/driver.js';
import { ensureUnpacked } from '../container/rootfs.js';
import { resolveUser } from '../container/user.js';
import { DEFAULT_SECCOMP, loadSeccompProfile, toOciSeccomp } from '../container/seccomp.js';
import { probeRuntime } from '../container/runtime.js';
import { ensureHybridDisk, guestSystem } from './disk.js';
import { GUEST_OVERHEAD_BYTES, guestConfig, hostsFile, vmSpecOf } from './launch.js';
import { CONTAINER_ID, GUEST, fromData, isHybridData, toData, withVm, type HybridData } from './persist.js';
import { waitContainerStarted } from './monitor.js';
import { filterRuncErrors } from '../container/monitor.js';
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
export class HybridDriver implements Driver {
  readonly kind = 'hybrid' as const;

  async probe(): Promise<Capability> {
    const vm = await vmDriver.probe();
    const details: Record<string, string> = { ...vm.details };
    try {
      const sys = await guestSystem();
      const v = await probeRuntime('runc');
      details['guest.runtime'] = `${v.version ?? 'runc'} from ${sys.runc}, with ${sys.libs.map((l) => path.basename(l)).join(', ')}`;
      details['guest.shell'] = sys.busybox;
    } catch (e) {
      return { ok: false, reason: (e as IsolaError).oneLine?.() ?? String(e), details };
    }
    details['guest.cgroups'] = 'v2, mounted by the start script';
    return vm.ok ? { ok: true, details } : { ok: false, reason: `the VM kind is not usable: ${vm.reason}`, details };
  }

  private vmSpec(spec: InstanceSpec, h: HybridData): InstanceSpec {
    return vmSpecOf(spec, { digest: `sha256:${path.basename(h.disk, '.ext4')}`, memoryBytes: h.vmMemoryBytes });
  }

  async create(spec: InstanceSpec): Promise<DriverData> {
    if (spec.runtime && spec.runtime !== 'runc') {
      throw new IsolaError('INVALID_ARGUMENT', `--runtime ${spec.runtime} is not available inside the hybrid guest`, 'the hybrid guest runs runc; leave --runtime out or use --runtime runc');
    }
    const sys = await guestSystem();
    const lower = await ensureUnpacked(spec.image, spec.cacheDir);
    const user = resolveUser(lower, spec.user);
    const caps = effectiveCaps(spec.security.capAdd, spec.security.capDrop, spec.security.privileged);
    const seccomp = spec.security.privileged || spec.security.seccomp === 'unconfined'
      ? null
      : toOciSeccomp(loadSeccompProfile(spec.security.seccomp === 'default' ? DEFAULT_SECCOMP : spec.security.seccomp), caps);
    const config = guestConfig({ spec, ...user, seccomp });
    const { digest, disk } = await ensureHybridDisk(spec.image, spec.cacheDir, sys);
    const h: HybridData = {
      hybrid: 1,
      vm: {},
      rootfs: lower,
      disk,
      vmMemoryBytes: spec.memoryBytes ? spec.memoryBytes + GUEST_OVERHEAD_BYTES : DEFAULT_VM_MEMORY,
    };
    // The host keeps a copy of the guest's config.json: what the runtime was given, for inspect --security.
    const bundle = path.join(spec.dir, 'bundle');
    fs.mkdirSync(bundle, { recursive: true });
    const json = JSON.stringify(config);
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
    const vmSpec = vmSpecOf(spec, { digest, memoryBytes: h.vmMemoryBytes }, ['/bin/sh', GUEST.start, json, hostsFile(spec)]);
    return toData(withVm(h, await vmDriver.create(vmSpec)));
  }

  async start(spec: InstanceSpec, data: DriverData): Promise<DriverData> {
    let h = fromData(data);
    const vmSpec = this.vmSpec(spec, h);
    h = withVm(h, await vmDriver.start(vmSpec, h.vm));
    try {
      await waitContainerStarted(vmDriver, vmSpec, h.vm, 60_000);
    } catch (e) {
      await vmDriver.cleanup(vmSpec, h.vm);
      throw e;
    }
    return toData(h);
  }

  async observe(spec: InstanceSpec, data: DriverData): Promise<Observed> {
    const h = fromData(data);
    return vmDriver.observe(this.vmSpec(spec, h), h.vm);
  }

  async wait(spec: InstanceSpec, data: DriverData): Promise<ExitInfo> {
    const h = fromData(data);
    return vmDriver.wait(this.vmSpec(spec, h), h.vm);
  }

  /** SIGTERM reaches the start script, which passes it to runc, which passes it to the container. */
  async stop(spec: InstanceSpec, data: DriverData, timeoutSec: number): Promise<void> {
    if (!isHybridData(data)) return;
    const h = fromData(data);
    await vmDriver.stop(this.vmSpec(spec, h), h.vm, timeoutSec);
  }

  async kill(spec: InstanceSpec, data: DriverData, signal: string): Promise<void> {
    const h = fromData(data);
    await vmDriver.kill(this.vmSpec(spec, h), h.vm, signal);
  }

  async cleanup(spec: InstanceSpec, data: DriverData): Promise<void> {
    if (!isHybridData(data)) return vmDriver.cleanup(spec, {});
    const h = fromData(data);
    await vmDriver.cleanup(this.vmSpec(spec, h), h.vm);
  }

  async remove(spec: InstanceSpec, data: DriverData): Promise<void> {
    if (isHybridData(data)) {
      const h = fromData(data);
      await vmDriver.remove(this.vmSpec(spec, h), h.vm);
    }
    fs.rmSync(spec.dir, { recursive: true, force: true });
    fs.rmSync(spec.runDir, { recursive: true, force: true });
  }

  async exec(spec: InstanceSpec, data: DriverData, argv: string[], opts: ExecOptions): Promise<number> {
    const h = fromData(data);
    const args = [GUEST.runc, '--root', GUEST.runcRoot, 'exec', '--cwd', opts.workdir || spec.workdir || '/'];
    for (const e of opts.env ?? []) args.push('--env', e);
    if (opts.user) {
      const u = resolveUser(h.rootfs, opts.user);
      args.push('--user', `${u.uid}:${u.gid}`);
    }
    args.push(CONTAINER_ID, ...argv);
    const filter = filterRuncErrors(opts.stderr, 'in the hybrid guest');
    const code = await vmDriver.exec(this.vmSpec(spec, h), h.vm, args, { ...opts, stderr: filter.sink });
    const err = filter.error();
    if (err) throw err;
    return code;
  }

  logs(spec: InstanceSpec, data: DriverData, opts: { follow: boolean; signal?: AbortSignal }): AsyncIterable<LogEntry> {
    const h = fromData(data);
    return vmDriver.logs(this.vmSpec(spec, h), h.vm, opts);
  }

  async stats(spec: InstanceSpec, data: DriverData): Promise<Stats> {
    const h = fromData(data);
    return hybridStats(await vmDriver.stats(this.vmSpec(spec, h), h.vm), spec.memoryBytes);
  }

  /** Runs the script in the guest, outside the container, about the container's init process. */
  async runOnWorkloadKernel(spec: InstanceSpec, data: DriverData, script: string): Promise<string> {
    const h = fromData(data);
    const find = `P=$(${GUEST.runc} --root ${GUEST.runcRoot} state ${CONTAINER_ID} | sed -n 's/^ *"pid": *\\([0-9]*\\).*/\\1/p'); exec /bin/sh -c "$1" sh "$P"`;
    const r = await collectOutput((io) => vmDriver.exec(this.vmSpec(spec, h), h.vm, ['/bin/sh', '-c', find, 'sh', script], { ...io, stdin: null }));
    return r.stdout;
  }
}

export const hybridDriver = new HybridDriver();
