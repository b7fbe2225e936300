import fs from 'node:fs';
import { run, runOk } from '../util/exec.js';
import type { BridgeNetworkSpec, NetworkSpec } from '../core/types.js';
import { ensureBridge } from './bridge.js';
import { hostVethName, netnsName, vethName } from './names.js';

/**
 * A named network namespace joined to isola's bridges by veth pairs: the container side is
 * eth0 (eth1, ... for networks joined later) with the instance's address, the host side is
 * enslaved to the network's bridge, in hairpin mode so an instance reaches its own published
 * ports. eth0's network gives the default route. Two `ip` invocations in all, batched, because
 * each spawn costs milliseconds on the start path.
 */
export async function createNetns(id: string, net: NetworkSpec, more: readonly BridgeNetworkSpec[] = []): Promise<string | null> {
  if (net.mode !== 'bridge') return null;
  const all = [net, ...more];
  for (const n of all) await ensureBridge(n);
  const ns = netnsName(id);
  try {
    await runOk('ip', ['-batch', '-'], { input: [`netns add ${ns}`, ...all.flatMap((n) => hostSide(id, n, ns))].join('\n') });
    await runOk('ip', ['-n', ns, '-batch', '-'], {
      input: ['link set lo up', ...all.flatMap((n) => guestSide(n)), `route add default via ${net.gateway} dev ${net.ifname ?? 'eth0'}`].join('\n'),
    });
  } catch (e) {
    await removeNetns(id);
    throw e;
  }
  return `/run/netns/${ns}`;
}

function hostSide(id: string, n: BridgeNetworkSpec, ns: string): string[] {
  const host = hostVethName(id, n.ifname);
  return [
    `link add ${host} type veth peer name ${n.ifname ?? 'eth0'} netns ${ns}`,
    `link set ${host} master ${n.bridge}`,
    `link set ${host} type bridge_slave hairpin on`,
    `link set ${host} up`,
  ];
}

function guestSide(n: BridgeNetworkSpec): string[] {
  const dev = n.ifname ?? 'eth0';
  return [`link set ${dev} address ${n.mac}`, `addr add ${n.ip}/${n.prefixLength} dev ${dev}`, `link set ${dev} up`];
}

/** `network connect` of a running container: one more interface in its namespace. */
export async function attachVeth(id: string, n: BridgeNetworkSpec, defaultRoute: boolean): Promise<void> {
  await ensureBridge(n);
  const ns = netnsName(id);
  try {
    await runOk('ip', ['-batch', '-'], { input: hostSide(id, n, ns).join('\n') });
    await runOk('ip', ['-n', ns, '-batch', '-'], {
      input: [...guestSide(n), ...(defaultRoute ? [`route replace default via ${n.gateway} dev ${n.ifname ?? 'eth0'}`] : [])].join('\n'),
    });
  } catch (e) {
    await detachVeth(id, n.ifname ?? 'eth0');
    throw e;
  }
}

/** `network disconnect` of a running container; removing its host side removes both ends. Idempotent. */
export async function detachVeth(id: string, ifname: string): Promise<void> {
  const host = hostVethName(id, ifname);
  if (fs.existsSync(`/sys/class/net/${host}`)) await run('ip', ['link', 'del', host]);
}

/** Points the default route at another interface's gateway (its network became the first). */
export async function setDefaultRoute(id: string, n: BridgeNetworkSpec): Promise<void> {
  await runOk('ip', ['-n', netnsName(id), 'route', 'replace', 'default', 'via', n.gateway, 'dev', n.ifname ?? 'eth0']);
}

/** Idempotent: removes the namespace, which destroys its interfaces and with them the host-side veths. */
export async function removeNetns(id: string): Promise<void> {
  if (fs.existsSync(`/run/netns/${netnsName(id)}`)) await run('ip', ['netns', 'del', netnsName(id)]);
  // Only when a pair outlived its namespace (a half-made setup): one more spawn otherwise saved.
  const extra = hostVethName(id, 'eth1').slice(0, -1);
  for (const host of fs.readdirSync('/sys/class/net').filter((d) => d === vethName(id) || d.startsWith(extra))) {
    await run('ip', ['link', 'del', host]);
  }
}
