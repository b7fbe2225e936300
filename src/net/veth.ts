import fs from 'node:fs';
import { run, runOk } from '../util/exec.js';
import type { NetworkSpec } from '../core/types.js';
import { ensureBridge } from './bridge.js';
import { netnsName, vethName } from './names.js';

/**
 * A named network namespace joined to isola's bridge by a veth pair: the container side is
 * eth0 with the instance's address, the host side is enslaved to the bridge. Three `ip`
 * invocations in all, batched, because each spawn costs milliseconds on the start path.
 */
export async function createNetns(id: string, net: NetworkSpec): Promise<string | null> {
  if (net.mode !== 'bridge') return null;
  await ensureBridge(net);
  const ns = netnsName(id);
  const veth = vethName(id);
  try {
    // Two `ip` runs: the namespace and the pair from the host side, then eth0 from inside.
    await runOk('ip', ['-batch', '-'], {
      input: [
        `netns add ${ns}`,
        `link add ${veth} type veth peer name eth0 netns ${ns}`,
        `link set ${veth} master ${net.bridge}`,
        `link set ${veth} up`,
      ].join('\n'),
    });
    await runOk('ip', ['-n', ns, '-batch', '-'], {
      input: [
        `link set eth0 address ${net.mac}`,
        `addr add ${net.ip}/${net.prefixLength} dev eth0`,
        'link set lo up',
        'link set eth0 up',
      ].join('\n'),
    });
  } catch (e) {
    await removeNetns(id);
    throw e;
  }
  return `/run/netns/${ns}`;
}

/** Idempotent: removes the namespace, which destroys eth0 and with it the host-side veth. */
export async function removeNetns(id: string): Promise<void> {
  if (fs.existsSync(`/run/netns/${netnsName(id)}`)) await run('ip', ['netns', 'del', netnsName(id)]);
  // Only when the pair outlived its namespace (a half-made setup): one more spawn otherwise saved.
  if (fs.existsSync(`/sys/class/net/${vethName(id)}`)) await run('ip', ['link', 'del', vethName(id)]);
}
