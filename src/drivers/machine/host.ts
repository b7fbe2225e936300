import fs from 'node:fs';
import path from 'node:path';
import type { InstanceSpec, Observed, StoredData } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import type { DriverContext } from '../driver.js';
import type { MachineHost } from '../machine-host.js';
import { VmDriver } from '../vm/driver.js';
import type { VmData } from '../vm/persist.js';
import { guestSystem } from '../hybrid/disk.js';
import { conmonPath } from '../container/monitor.js';
import { guestRun } from '../vm/guest-run.js';
import { fenceMachine, unfenceMachine } from '../../net/machine-filter.js';
import { tapName } from '../../net/names.js';
import { buildMachineDisk, machineSystem, MACHINE_GUEST } from './guest.js';
import { mountsUnder, shareVolumeRoot, unshareVolumeRoot } from './volumes.js';
import { markTerminals } from './terminal-mark.js';
import { readGuestAssets } from '../../guest/assets.js';

/** Whether the machine shares a volume folder (machines made before volumes reached them do not). */
export const sharesVolumes = (spec: InstanceSpec): boolean => (spec.mounts ?? []).some((m) => m.target === MACHINE_GUEST.volumes);

/** How long start waits for the machine's workload to say it is ready, past the VM's own boot. */
const READY_TIMEOUT_MS = 30_000;

/** The VM driver's data of a machine, checked. */
export function machineVm(vm: VmDriver, data: StoredData): VmData {
  const v = vm.decode(data);
  if (!v) throw new IsolaError('CORRUPT', 'the record of this machine\'s VM is missing or from another version', 'remove the machine with isola machine rm -f');
  return v;
}


function rssBytes(pid: number | null | undefined): number {
  if (!pid) return 0;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Machines on the VM driver: the machine's disk, boot, stop and cleanup are the VM's. */
export class VmMachineHost implements MachineHost {
  private readonly vm: VmDriver;

  constructor(private readonly ctx: DriverContext) {
    this.vm = new VmDriver(ctx);
  }

  async create(spec: InstanceSpec, diskBytes: number): Promise<StoredData> {
    const sys = await machineSystem(await guestSystem(this.ctx.config), conmonPath(this.ctx.config), readGuestAssets(this.ctx.config.assets)?.ttyRelay);
    fs.mkdirSync(spec.dir, { recursive: true, mode: 0o700 });
    const disk = path.join(spec.dir, 'system.ext4');
    await buildMachineDisk(sys, spec.dir, disk, diskBytes);
    if (sys.ttyRelay) markTerminals(spec.dir); // its disk has the relay: -i, -t and attach work in it
    return this.vm.createWithDisk(spec, disk);
  }

  async start(spec: InstanceSpec, data: StoredData, checkpoint: (data: StoredData) => void): Promise<StoredData> {
    // Its volume folder a shared mount point before virtiofsd starts, so later binds reach it.
    if (sharesVolumes(spec)) await shareVolumeRoot(spec.dir);
    const v = await this.vm.start(spec, machineVm(this.vm, data), (d) => checkpoint(d));
    // Its tap joins the set that keeps machines apart on the bridge, before any container runs.
    try {
      await fenceMachine(tapName(spec.id));
    } catch (e) {
      await this.vm.cleanup(spec, v);
      throw e;
    }
    // The VM is up once its init runs the workload; the workload is ready once /run and cgroups are.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const r = await guestRun(this.vm, spec, v, ['/bin/sh', '-c', `test -f ${MACHINE_GUEST.bundles}/.ready`]).catch(() => null);
      if (r?.code === 0) return v;
      if (Date.now() > deadline) {
        await this.vm.cleanup(spec, v);
        throw new IsolaError('TIMEOUT', `machine ${spec.name} booted but its workload did not become ready within ${READY_TIMEOUT_MS / 1000} s`, 'see its console: isola machine inspect NAME (consoleLog)');
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  observe(spec: InstanceSpec, data: StoredData): Promise<Observed> {
    return this.vm.observe(spec, machineVm(this.vm, data));
  }

  stop(spec: InstanceSpec, data: StoredData, timeoutSec: number): Promise<void> {
    // The workload gives its containers the timeout, then exits; the guest then powers off.
    return this.vm.stop(spec, machineVm(this.vm, data), timeoutSec + 5);
  }

  async cleanup(spec: InstanceSpec, data: StoredData | null): Promise<void> {
    await this.vm.cleanup(spec, data ? this.vm.decode(data) : null);
    await unfenceMachine(tapName(spec.id));
    await unshareVolumeRoot(spec.dir);
  }

  async remove(spec: InstanceSpec, data: StoredData | null): Promise<void> {
    // Its folder is deleted recursively: never while a host folder is still bound in it.
    await unshareVolumeRoot(spec.dir);
    const left = mountsUnder(spec.dir);
    if (left.length > 0) throw new IsolaError('FAILED_PRECONDITION', `machine ${spec.name} still has host folders mounted in its folder: ${left.join(', ')}`, `unmount them (umount -l PATH), then isola machine rm -f ${spec.name} again`);
    return this.vm.remove(spec, data ? this.vm.decode(data) : null);
  }

  async hostMemoryBytes(spec: InstanceSpec, data: StoredData): Promise<number | null> {
    const v = machineVm(this.vm, data);
    if ((await this.vm.observe(spec, v)).state !== 'running') return null;
    return rssBytes(v.pid) + (v.shares ?? []).reduce((a, s) => a + rssBytes(s.pid), 0);
  }
}
