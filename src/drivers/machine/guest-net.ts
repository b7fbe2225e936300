import type { BridgeNetworkSpec, InstanceSpec } from '../../core/types.js';
import { DEFAULT_NETWORK } from '../../net/names.js';
import { bridgeNetworks } from '../../net/etc-files.js';

/**
 * The guest's half of user networks for containers in a machine (docs/MACHINES.md, "User
 * networks"): the host routes a container's address on a user network to the machine, and the
 * machine hands every packet of its containers to the host, whose nftables rules decide what a
 * container reaches. The guest itself has no filter (its kernel has no netfilter): what keeps
 * two containers of one machine on different networks apart is that the guest never routes
 * from one container to another. Written by the machine's workload at boot:
 *
 * - policy routing: a packet that enters from the machine's NIC (eth0) or that the guest sends
 *   itself (lo) is routed by the main table (a /32 route per container address); every other
 *   packet, so every packet of a container, by table 100, whose one route is the default route
 *   through the host (isola0's gateway). Two containers of one machine reach each other
 *   through the host, as any two instances do;
 * - strict reverse-path filtering on every veth made from then on (`conf/default/rp_filter`):
 *   a container's packet is dropped unless its source is an address of that container, so no
 *   container borrows another's address (the host checks the machine's tap the same way);
 * - the marker `.routed` in the workload's run folder, only when all of the above took: the
 *   host refuses user networks in a machine without it (made, or booted on a kernel, before).
 */
export const ROUTED_MARKER = '/run/isola/.routed';

export const MACHINE_ROUTING = `gw=$(ip route | sed -n 's/^default via \\([0-9.]*\\) .*/\\1/p')
echo 1 > /proc/sys/net/ipv4/conf/default/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/all/accept_redirects
[ -n "$gw" ] && ip rule add pref 100 iif eth0 lookup main && ip rule add pref 101 iif lo lookup main &&
  ip route add default via "$gw" dev eth0 table 100 && ip rule add pref 102 lookup 100 && echo "$gw" > ${ROUTED_MARKER}
`;

/** Where the script below lies on the machine's disk. */
export const CTR_NET_PATH = '/.isola/ctr-net';

/**
 * `ctr-net PID [VETH ADDR/PREFIX IFNAME MAC]...`: one more interface per group in the network
 * namespace of process PID (a container's, between runc create and runc start, or a running
 * one's for `network connect`): a veth pair, one end moved in and named IFNAME with the address
 * and MAC, the other left in the guest with a /32 route to the address. Proxy ARP (on at the
 * machine's boot) answers on it for every other address, so the container's packets come to the
 * guest, which sends them on to the host. On a failure, what it made goes and it says why.
 */
export const CTR_NET_SCRIPT = `#!/bin/sh
set -u
pid=$1; shift; err=/tmp/ctr-net.$$
while [ $# -ge 4 ]; do
  v=$1; addr=$2; dev=$3; mac=$4; shift 4
  ip link del "$v" 2>/dev/null
  peer=""
  ip link add "$v" type veth 2>"$err" && peer=$(ip link show | sed -n "s/^[0-9]*: \\([^@:]*\\)@$v:.*/\\1/p")
  if ! { [ -n "$peer" ] && ip link set "$peer" netns "$pid" &&
    nsenter -t "$pid" -n sh -c "ip link set $peer name $dev && ip link set $dev address $mac && ip addr add $addr dev $dev && ip link set $dev up" &&
    ip link set "$v" up && ip route add "\${addr%/*}" dev "$v"; } 2>>"$err"; then
    echo "interface $dev of the container could not be made in the machine: $(cat "$err")" >&2
    ip link del "$v" 2>/dev/null; rm -f "$err"; exit 125
  fi
done
rm -f "$err"
exit 0
`;

/** The guest's end of a container's veth pair for interface `ifname` (eth0's is placed.ts's vethInGuest). */
export function guestVethFor(id: string, ifname: string): string {
  return `n${id.slice(0, 12)}${ifname.replace(/^eth/, '')}`;
}

/** The container's interfaces after its first: `VETH ADDR/PREFIX IFNAME MAC` each, for ctr-net. */
export function moreNetArgs(spec: InstanceSpec): string[] {
  return (spec.moreNetworks ?? []).flatMap((n) => ifaceArgs(spec.id, n));
}

export function ifaceArgs(id: string, n: BridgeNetworkSpec): string[] {
  const dev = n.ifname ?? 'eth0';
  return [guestVethFor(id, dev), `${n.ip}/${n.prefixLength}`, dev, n.mac];
}

/** The user networks (not the default one) among its interfaces: those the host routes to the machine. */
export function userNetworksOf(spec: InstanceSpec): BridgeNetworkSpec[] {
  return bridgeNetworks(spec).filter((n) => (n.networkId ?? DEFAULT_NETWORK) !== DEFAULT_NETWORK);
}
