import type { BridgeNetworkSpec, InstanceSpec } from '../../core/types.js';
import { DEFAULT_NETWORK } from '../../net/names.js';
import { bridgeNetworks } from '../../net/etc-files.js';

/**
 * The guest's half of user networks for containers in a machine (docs/MACHINES.md, "User
 * networks"): the host routes a container's address on a user network to the machine, and the
 * machine hands every packet that comes from a user-network interface to the host, whose
 * nftables rules decide what it reaches. The guest itself has no filter (its kernel has no
 * netfilter): what keeps containers of one machine on different networks apart is that the
 * guest never routes between a user-network interface and any other container. Policy routing:
 *
 * - a user-network interface's veth in the guest is named `u...`; its /32 route is in table 200,
 *   not in the main table, and a rule sends every packet entering from it to table 100, whose one
 *   route is the default route through the host (isola0's gateway);
 * - packets from the machine's NIC (eth0) or from the guest itself (lo) look in table 200 first,
 *   then in the main table, which holds the default network's containers (`c...`, as before);
 * - so a container on the default network finds no route to a user-network address but the
 *   default one (to the host, whose rules drop it), and a user-network container's packets all
 *   go to the host, two containers of one machine on one user network included. Containers of
 *   the default network reach each other in the guest as before, and other machines' not at all
 *   (machine-filter.ts);
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
[ -n "$gw" ] && ip rule add pref 100 iif eth0 lookup 200 && ip rule add pref 101 iif lo lookup 200 &&
  ip route add default via "$gw" dev eth0 table 100 && echo "$gw" > ${ROUTED_MARKER}
`;

/** Where the script below lies on the machine's disk. */
export const CTR_NET_PATH = '/.isola/ctr-net';

/**
 * `ctr-net --route VETH ADDR`: the guest's route to a container's address through its veth, in
 * table 200 with the rule to the host for a user network's (`u...`), in the main table otherwise.
 *
 * `ctr-net PID [VETH ADDR/PREFIX IFNAME MAC]...`: one more interface per group in the network
 * namespace of process PID (a container's, between runc create and runc start, or a running
 * one's for `network connect`): a veth pair, one end moved in and named IFNAME with the address
 * and MAC, the other left in the guest with a /32 route to the address. Proxy ARP (on at the
 * machine's boot) answers on it for every other address, so the container's packets come to the
 * guest, which sends them on to the host. On a failure, what it made goes and it says why.
 */
export const CTR_NET_SCRIPT = `#!/bin/sh
set -u
route() {
  case $1 in
    u*) ip route add "$2" dev "$1" table 200 && { ip rule del pref 102 iif "$1" 2>/dev/null; ip rule add pref 102 iif "$1" lookup 100; } ;;
    *) ip route add "$2" dev "$1" ;;
  esac
}
[ "$1" = --route ] && { route "$2" "$3"; exit; }
pid=$1; shift; err=/tmp/ctr-net.$$
while [ $# -ge 4 ]; do
  v=$1; addr=$2; dev=$3; mac=$4; shift 4
  ip link del "$v" 2>/dev/null
  peer=""
  ip link add "$v" type veth 2>"$err" && peer=$(ip link show | sed -n "s/^[0-9]*: \\([^@:]*\\)@$v:.*/\\1/p")
  if ! { [ -n "$peer" ] && ip link set "$peer" netns "$pid" &&
    nsenter -t "$pid" -n sh -c "ip link set $peer name $dev && ip link set $dev address $mac && ip addr add $addr dev $dev && ip link set $dev up" &&
    ip link set "$v" up && route "$v" "\${addr%/*}"; } 2>>"$err"; then
    echo "interface $dev of the container could not be made in the machine: $(cat "$err")" >&2
    ip link del "$v" 2>/dev/null; rm -f "$err"; exit 125
  fi
done
rm -f "$err"
exit 0
`;

const isUser = (n: BridgeNetworkSpec): boolean => (n.networkId ?? DEFAULT_NETWORK) !== DEFAULT_NETWORK;

/**
 * The guest's end of a container's veth pair for an interface after its first (`first`: its
 * first interface, on a user network; on the default network that one is placed.ts's
 * `c` + 12 hex): `u` for a user network's (the guest routes it to the host only), `n` otherwise.
 */
export function guestVethFor(id: string, n: BridgeNetworkSpec, first = false): string {
  return `${isUser(n) ? 'u' : 'n'}${id.slice(0, 12)}${first ? '' : (n.ifname ?? 'eth0').replace(/^eth/, '')}`;
}

/** The container's interfaces after its first: `VETH ADDR/PREFIX IFNAME MAC` each, for ctr-net. */
export function moreNetArgs(spec: InstanceSpec): string[] {
  return (spec.moreNetworks ?? []).flatMap((n) => ifaceArgs(spec.id, n));
}

export function ifaceArgs(id: string, n: BridgeNetworkSpec): string[] {
  return [guestVethFor(id, n), `${n.ip}/${n.prefixLength}`, n.ifname ?? 'eth0', n.mac];
}

/** In the guest, at cleanup: the user-network veths of the container and their rules (a veth goes with its namespace; a rule does not). */
export function guestNetDown(spec: InstanceSpec): string {
  const first = spec.network.mode === 'bridge' ? spec.network : null;
  const names = bridgeNetworks(spec).filter(isUser).map((n) => guestVethFor(spec.id, n, n === first));
  return names.map((v) => `ip link del ${v} 2>/dev/null; while ip rule del pref 102 iif ${v} 2>/dev/null; do :; done; `).join('');
}

/** The user networks (not the default one) among its interfaces: those the host routes to the machine. */
export function userNetworksOf(spec: InstanceSpec): BridgeNetworkSpec[] {
  return bridgeNetworks(spec).filter(isUser);
}
