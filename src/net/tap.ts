import fs from 'node:fs';
import { run } from '../util/exec.js';
import { tapName } from './names.js';
import { IsolaError } from '../core/errors.js';

/**
 * Tap devices for VMs: QEMU's virtio-net sits on one end, isola's bridge on the other, so a VM
 * is reached exactly like a container on the same bridge. The device is created persistent
 * (`ip tuntap add`) before QEMU starts, so QEMU needs no helper script and no privileges of
 * its own, and deleted by cleanup.
 */
export { tapName };

export async function createTap(id: string, bridge: string): Promise<string> {
  const name = tapName(id);
  const exists = fs.existsSync(`/sys/class/net/${name}`);
  if (!exists) {
    const r = await run('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap']);
    if (r.code !== 0 && !/exists|busy/i.test(r.stderr)) {
      throw new IsolaError('UNAVAILABLE', `cannot create tap device ${name}: ${r.stderr.trim()}`, 'isola needs root and /dev/net/tun (modprobe tun)');
    }
  }
  for (const args of [['link', 'set', name, 'master', bridge], ['link', 'set', name, 'up']]) {
    const r = await run('ip', args);
    if (r.code !== 0) {
      await deleteTap(id);
      throw new IsolaError('UNAVAILABLE', `cannot attach tap device ${name} to ${bridge}: ${r.stderr.trim()}`, 'check the bridge exists (isola recreates it on the next run)');
    }
  }
  return name;
}

/** Idempotent: a missing device is not an error. */
export async function deleteTap(id: string): Promise<void> {
  const name = tapName(id);
  if (!fs.existsSync(`/sys/class/net/${name}`)) return;
  await run('ip', ['link', 'del', name]);
}
