import fs from 'node:fs';
import { run } from '../util/exec.js';
import { hostTapName, tapName } from './names.js';
import { IsolaError } from '../core/errors.js';

/**
 * Tap devices for VMs: QEMU's virtio-net sits on one end, isola's bridge on the other, so a VM
 * is reached exactly like a container on the same bridge. The device is created persistent
 * (`ip tuntap add`) before QEMU starts, so QEMU needs no helper script and no privileges of
 * its own, and deleted by cleanup. Hairpin mode lets a VM reach its own published ports.
 */
export { tapName };

/**
 * `owner`: the uid (and gid) of the VMM that attaches it. A tap without an owner may be attached
 * by any process of any user that can open /dev/net/tun; one with an owner only by that uid
 * (or root), so no other VM's QEMU can reach this VM's network. `ifname`: the guest interface
 * it serves (eth0, eth1, ...).
 */
export async function createTap(id: string, bridge: string, owner: number, ifname = 'eth0'): Promise<string> {
  const name = hostTapName(id, ifname);
  const exists = fs.existsSync(`/sys/class/net/${name}`);
  if (!exists) {
    const r = await run('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap', 'user', String(owner), 'group', String(owner)]);
    if (r.code !== 0 && !/exists|busy/i.test(r.stderr)) {
      throw new IsolaError('UNAVAILABLE', `cannot create tap device ${name}: ${r.stderr.trim()}`, 'isola needs root and /dev/net/tun (modprobe tun)');
    }
  }
  for (const args of [['link', 'set', name, 'master', bridge], ['link', 'set', name, 'type', 'bridge_slave', 'hairpin', 'on'], ['link', 'set', name, 'up']]) {
    const r = await run('ip', args);
    if (r.code !== 0) {
      await deleteTaps(id);
      throw new IsolaError('UNAVAILABLE', `cannot attach tap device ${name} to ${bridge}: ${r.stderr.trim()}`, 'check the bridge exists (isola recreates it on the next run)');
    }
  }
  return name;
}

/** Idempotent: a missing device is not an error. Every tap of the instance (eth0's and later ones). */
export async function deleteTaps(id: string): Promise<void> {
  const extra = hostTapName(id, 'eth1').slice(0, -1);
  for (const name of fs.readdirSync('/sys/class/net').filter((d) => d === tapName(id) || d.startsWith(extra))) {
    await run('ip', ['link', 'del', name]);
  }
}
