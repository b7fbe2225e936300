/**
 * Names of the host-side objects isola creates. Every one carries the `isola` prefix so that
 * cleanup (and a person) can find them; interface names are at most 15 characters (IFNAMSIZ).
 */
export const BRIDGE = 'isola0';
export const SUBNET = '10.77.0.0/16'; // one private /16 that isola owns; see docs/NETWORK.md
export const GATEWAY = '10.77.0.1';
export const PREFIX = 16;

/** The default network: what `--network bridge` (and no --network) means. */
export const DEFAULT_NETWORK = 'bridge';

export const vethName = (id: string): string => `isolav${id.slice(0, 9)}`;
export const tapName = (id: string): string => `isolat${id.slice(0, 9)}`;
export const netnsName = (id: string): string => `isola-${id.slice(0, 12)}`;

/** A user network's bridge: `isolabr-` and 7 characters of the network's id. */
export const bridgeName = (networkId: string): string => `isolabr-${networkId.slice(0, 7)}`;

/**
 * The host side of an instance's interface `ifname`: eth0 keeps the names above (instances made
 * before user networks have them); eth1, eth2, ... (`network connect`) get 8 characters of the
 * id and the interface's number.
 */
export function hostVethName(id: string, ifname = 'eth0'): string {
  return ifname === 'eth0' ? vethName(id) : `isolax${id.slice(0, 8)}${ifIndex(ifname)}`;
}
export function hostTapName(id: string, ifname = 'eth0'): string {
  return ifname === 'eth0' ? tapName(id) : `isolau${id.slice(0, 8)}${ifIndex(ifname)}`;
}
const ifIndex = (ifname: string): string => ifname.replace(/^eth/, '');

/** A locally administered MAC derived from the instance id, so it is stable across restarts. */
export function macFor(id: string, ifname = 'eth0'): string {
  const b = id.slice(0, 10).match(/../g) ?? [];
  const n = Number(ifIndex(ifname)) || 0;
  // Another interface of the same instance changes the first byte (still locally administered, unicast).
  return [n === 0 ? '02' : (0x02 + 4 * n).toString(16).padStart(2, '0'), ...b].join(':');
}
