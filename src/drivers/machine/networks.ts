import type { BridgeNetworkSpec, InstanceSpec } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import type { MachineRecord } from '../../state/machines.js';
import type { VmDriver } from '../vm/driver.js';
import type { VmData } from '../vm/persist.js';
import { cidrText, subnetOf } from '../../net/ipam.js';
import { DEFAULT_NETWORK, tapName } from '../../net/names.js';
import { routeToMachine, unrouteFromMachine, type PlacedRoute } from '../../net/placed-routes.js';
import { guestRun } from '../vm/guest-run.js';
import { MACHINE_GUEST } from './guest.js';
import { CTR_NET_PATH, ROUTED_MARKER, guestVethFor, ifaceArgs, userNetworksOf } from './guest-net.js';

/**
 * User networks for containers in a machine: what the placed driver does at a container's start,
 * cleanup, `network connect` and `network disconnect`. The host routes each of the container's
 * addresses on a user network to the machine (net/placed-routes.ts); the guest gives the
 * container one veth pair per interface (guest-net.ts). See docs/MACHINES.md, "User networks".
 */

const isUser = (n: BridgeNetworkSpec): boolean => (n.networkId ?? DEFAULT_NETWORK) !== DEFAULT_NETWORK;

/** The host's route of one interface of a container to its machine. */
function routeOf(machineId: string, machineIp: string, n: BridgeNetworkSpec): PlacedRoute {
  return { ip: n.ip, bridge: n.bridge, gateway: n.gateway, prefixLength: n.prefixLength, subnet: cidrText(subnetOf(n.gateway, n.prefixLength)), via: machineIp, tap: tapName(machineId) };
}

/**
 * A machine whose guest routes every container packet to the host (its workload wrote the
 * marker at boot). One made, or booted on a guest kernel, before user networks reached machines
 * is refused: its guest would route between its containers with no rule in the way.
 */
async function mustRouteToHost(vm: VmDriver, m: MachineRecord, v: VmData): Promise<void> {
  const r = await guestRun(vm, m.spec, v, ['/bin/sh', '-c', `test -s ${ROUTED_MARKER} && test -f ${CTR_NET_PATH}`]);
  if (r.code !== 0) {
    throw new IsolaError('FAILED_PRECONDITION', `machine ${m.name} cannot put containers on user networks: it was made, or booted on a guest kernel, before user networks reached machines (its guest would route between its containers)`,
      `recreate it (isola machine rm -f ${m.name}; isola machine create ${m.name}) after npm run bootstrap, or use the default network`);
  }
}

/** A container placed before containers in machines had network namespaces of their own joins no network. */
function mustHaveOwnNetns(spec: InstanceSpec, forWhat: string): void {
  if (!spec.machine?.netns) throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} shares its machine's network namespace (it was placed before containers had their own)`, `remove it and run it again ${forWhat}`);
}

/** Before a container starts: the machine can route it, and the host routes its user-network addresses to the machine. */
export async function userNetworksUp(vm: VmDriver, m: MachineRecord, v: VmData, spec: InstanceSpec): Promise<void> {
  const nets = userNetworksOf(spec);
  if (nets.length === 0) return;
  mustHaveOwnNetns(spec, 'to put it on user networks');
  await mustRouteToHost(vm, m, v);
  for (const n of nets) await routeToMachine(routeOf(m.id, m.ip, n));
}

/** At cleanup (the machine running or not): the host's routes of its user-network addresses. Idempotent. */
export async function userNetworksDown(spec: InstanceSpec, only?: BridgeNetworkSpec): Promise<void> {
  if (!spec.machine) return;
  const nets = only ? [only].filter(isUser) : userNetworksOf(spec);
  for (const n of nets) await unrouteFromMachine(routeOf(spec.machine.id, spec.machine.ip, n));
}

/** The pid (in the guest) of a running container's first process, for its network namespace. */
const PID_OF = (id: string) => `P=$(${MACHINE_GUEST.runc} --root ${MACHINE_GUEST.runcRoot} state ${id} | sed -n 's/^ *"pid": *\\([0-9]*\\).*/\\1/p'); [ -n "$P" ] && [ "$P" != 0 ] || { echo "the container is not running in the machine" >&2; exit 125; }`;

/** `network connect` of a running container: the host's route, then its interface in the guest. */
export async function connectRunning(vm: VmDriver, m: MachineRecord, v: VmData, spec: InstanceSpec, n: BridgeNetworkSpec): Promise<void> {
  mustHaveOwnNetns(spec, 'on the networks it needs');
  await mustRouteToHost(vm, m, v);
  if (isUser(n)) await routeToMachine(routeOf(m.id, m.ip, n));
  const out = await guestRun(vm, m.spec, v, ['/bin/sh', '-c', `${PID_OF(spec.id)}; exec /bin/sh ${CTR_NET_PATH} "$P" "$@"`, 'sh', ...ifaceArgs(spec.id, n)]);
  if (out.code !== 0) {
    await userNetworksDown(spec, n).catch(() => undefined);
    throw new IsolaError('INTERNAL', `network connect in machine ${m.name} failed: ${out.stderr.trim().split('\n').pop() ?? `status ${out.code}`}`, 'see isola machine inspect');
  }
}

/**
 * `network disconnect` of a running container: its interface in the guest (removing the guest's
 * end removes both, and the /32 route with them), the default route moved when it was the first,
 * then the host's route.
 */
export async function disconnectRunning(vm: VmDriver, m: MachineRecord, v: VmData, spec: InstanceSpec, n: BridgeNetworkSpec, newFirst: BridgeNetworkSpec | null, firstVeths: string[]): Promise<void> {
  const dev = n.ifname ?? 'eth0';
  // Its veth as a later interface, or (it was the first) as the first; a rule to the host goes with a user network's.
  const names = [guestVethFor(spec.id, n), ...(dev === 'eth0' || newFirst ? firstVeths : [])];
  const gone = names.map((x) => `ip link del ${x} 2>/dev/null; while ip rule del pref 102 iif ${x} 2>/dev/null; do :; done; `).join('');
  const route = newFirst ? `${PID_OF(spec.id)}; nsenter -t "$P" -n ip route replace default via ${newFirst.gateway} dev ${newFirst.ifname ?? 'eth0'}` : 'true';
  const out = await guestRun(vm, m.spec, v, ['/bin/sh', '-c', `${gone}${route}`]);
  if (out.code !== 0) throw new IsolaError('INTERNAL', `network disconnect in machine ${m.name} failed: ${out.stderr.trim().split('\n').pop() ?? `status ${out.code}`}`, 'see isola machine inspect');
  await userNetworksDown(spec, n);
}
