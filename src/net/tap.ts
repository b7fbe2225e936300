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

/**
 * `owner`: the uid (and gid) of the VMM that attaches it. A tap without an owner may be attached
 * by any process of any user that can open /dev/net/tun; one with an owner only by that uid
 * (or root), so no other VM's QEMU can reach this VM's network.
 */
export async function createTap(id: string, bridge: string, owner: number): Promise<string> {
  const name = tapName(id);
  const exists = fs.existsSync(`/sys/class/net/${name}`);
  if (!exists) {
    const r = await run('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap', 'user', String(owner), 'group', String(owner)]);
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
