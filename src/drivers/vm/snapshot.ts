import fs from 'node:fs';
import { IsolaError } from '../../core/errors.js';
import type { Config } from '../../core/config.js';
import type { InstanceSpec } from '../../core/types.js';
import { run } from '../../util/exec.js';
import { allocatedBytes } from '../../util/fsx.js';
import { findQemuImg } from './accel.js';
import { qmpCommand, socketPath } from './monitor.js';
import type { VmData } from './persist.js';

/**
 * A VM's snapshot: a qcow2 internal snapshot of the instance's overlay disk, tagged with the
 * snapshot's id. Taking one only marks the clusters in use as shared (copy on write from then
 * on), so it is fast whatever the disk's size. A stopped VM's disk is handled by `qemu-img
 * snapshot`; a running one's by QEMU itself over QMP (`blockdev-snapshot-internal-sync` on the
 * root node, which isola names `root`), the vCPUs stopped meanwhile so that the guest writes
 * nothing during it: what the guest has written (synced) is in, its page cache is not, as after
 * a power cut. Restore needs the VM stopped: QEMU can only load an internal snapshot together
 * with a RAM state, which a disk-only snapshot has not.
 */

async function qemuImg(config: Config, args: string[], what: string): Promise<void> {
  const r = await run(findQemuImg(config), args);
  if (r.code !== 0) throw new IsolaError('INTERNAL', `${what}: ${r.stderr.trim().split('\n')[0] ?? `qemu-img exited ${r.code}`}`, 'see the disk with qemu-img info --force-share');
}

async function qmp(spec: InstanceSpec, v: VmData, execute: string, args?: Record<string, unknown>): Promise<void> {
  await qmpCommand(socketPath(v, 'qmp'), execute, args, 30_000).catch((e: Error) => {
    throw new IsolaError('UNAVAILABLE', `QEMU refused ${execute} for VM ${spec.name}: ${e.message}`, `stop it first (isola stop ${spec.name}), then snapshot it`);
  });
}

export async function createVmSnapshot(config: Config, spec: InstanceSpec, v: VmData, tag: string, now: 'stopped' | 'running' | 'paused'): Promise<{ bytes: number }> {
  if (now === 'stopped') {
    await qemuImg(config, ['snapshot', '-c', tag, v.overlay], `snapshot of VM ${spec.name}'s disk`);
  } else {
    if (now === 'running') await qmp(spec, v, 'stop');
    try {
      await qmp(spec, v, 'blockdev-snapshot-internal-sync', { device: 'root', name: tag });
    } finally {
      if (now === 'running') await qmp(spec, v, 'cont');
    }
  }
  // What it pins: every cluster of the overlay now (until the disk diverges, shared with it).
  return { bytes: fs.existsSync(v.overlay) ? allocatedBytes(v.overlay) : 0 };
}

export async function restoreVmSnapshot(config: Config, spec: InstanceSpec, v: VmData, tag: string): Promise<void> {
  await qemuImg(config, ['snapshot', '-a', tag, v.overlay], `restore of VM ${spec.name}'s disk`);
}

export async function removeVmSnapshot(config: Config, spec: InstanceSpec, v: VmData, tag: string, now: 'stopped' | 'running' | 'paused'): Promise<void> {
  if (!fs.existsSync(v.overlay)) return;
  if (now === 'stopped') {
    const list = await run(findQemuImg(config), ['snapshot', '-l', v.overlay]);
    if (!list.stdout.split('\n').some((l) => l.split(/\s+/).includes(tag))) return; // already gone
    await qemuImg(config, ['snapshot', '-d', tag, v.overlay], `removing a snapshot of VM ${spec.name}'s disk`);
  } else {
    await qmp(spec, v, 'blockdev-snapshot-delete-internal-sync', { device: 'root', name: tag });
  }
}
