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
  const create = !fs.existsSync(`/sys/class/net/${name}`);
  const attach = [`link set ${name} master ${bridge}`, `link set ${name} type bridge_slave hairpin on`, `link set ${name} up`];
  // One ip process for every step (-batch stops at the first that fails): each process of its
  // own cost about 3 ms here, on every VM start with a network.
  const steps = [...(create ? [`tuntap add dev ${name} mode tap user ${owner} group ${owner}`] : []), ...attach];
  const r = await run('ip', ['-batch', '-'], { input: `${steps.join('\n')}\n` });
  if (r.code === 0) return name;
  // ip names the failing step only sometimes (some errors exit at once): whether the tap
  // exists now says which half failed.
  const why = r.stderr.replace(/Command failed -:\d+/, '').replace(/\s+/g, ' ').trim();
  if (create && !fs.existsSync(`/sys/class/net/${name}`)) {
    throw new IsolaError('UNAVAILABLE', `cannot create tap device ${name}: ${why}`, 'isola needs root and /dev/net/tun (modprobe tun)');
  }
  await deleteTaps(id);
  throw new IsolaError('UNAVAILABLE', `cannot attach tap device ${name} to ${bridge}: ${why}`, 'check the bridge exists (isola recreates it on the next run)');
}

/** Idempotent: a missing device is not an error. Every tap of the instance (eth0's and later ones). */
export async function deleteTaps(id: string): Promise<void> {
  const extra = hostTapName(id, 'eth1').slice(0, -1);
  for (const name of fs.readdirSync('/sys/class/net').filter((d) => d === tapName(id) || d.startsWith(extra))) {
    await run('ip', ['link', 'del', name]);
  }
}
