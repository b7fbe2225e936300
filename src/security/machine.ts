import type { PlacedIn } from '../core/types.js';

/** What a container placed in a machine shares, and with whom: what the profile says beside the measured facts. */
export interface MachineSharing {
  machine: string;
  address: string;
  /** The other containers placed in the same machine, any state. */
  neighbours: string[];
  shared: string[];
  own: string[];
  notShared: string[];
}

/**
 * The sharing of a container in a machine, as isola builds it: the guest kernel with the
 * machine's other containers; its own namespaces (network included: its own address, `ownIp`,
 * routed by the machine, or loopback only, and its own /etc files; containers placed before that
 * share the machine's),
 * cgroup, root layer and limits; no kernel, files or processes with the host or with the
 * containers of other machines (their own VMs), nor the network: frames between machines' taps
 * are dropped.
 */
export function machineSharing(p: PlacedIn, neighbours: string[], ownIp: string | null = null, network = 'bridge'): MachineSharing {
  // On a user network, the host routes the address to the machine (docs/MACHINES.md, User networks).
  const where = network === 'bridge' ? 'on isola0 (routed by the machine through a veth pair, proxy ARP on its NIC)' : `on network ${network} (routed to the machine by the host, then through a veth pair)`;
  const net = p.netns
    ? { own: [`network namespace${ownIp ? `, address ${ownIp} ${where}` : ' with loopback only (--network none)'}`, '/etc/hostname, /etc/hosts and /etc/resolv.conf (read-only: its name, --add-host, --dns)'], shared: [] }
    : { own: [], shared: [`the machine's network namespace and address ${p.ip} (its ports, its loopback)`, 'the machine\'s /etc/hosts and /etc/resolv.conf (read-only)'] };
  return {
    machine: p.name,
    address: p.ip,
    neighbours,
    shared: [
      `the guest kernel of machine ${p.name} (one kernel for its ${neighbours.length + 1} container(s))`,
      ...net.shared,
      'the image\'s unpacked layers (read-only, one virtiofs share per machine)',
    ],
    own: ['pid, mount, ipc, uts and cgroup namespaces', ...net.own, `cgroup /isola/<id> in the guest (its limits)`, 'its root file system\'s writable layer (overlay upper on the machine\'s disk)', 'its capabilities, seccomp filter and no-new-privileges, as a host container'],
    notShared: [
      'the host\'s kernel (another kernel: the machine\'s VM)',
      'anything with the containers of other machines: other VMs (kernel, files, processes), and on isola0 frames between two machines\' taps are dropped (nftables, table bridge isola-machines); a published port is reached through the host',
    ],
  };
}

export function renderMachineSharing(m: MachineSharing): string[] {
  return [
    '',
    `Machine ${m.machine} (${m.address}); other containers in it: ${m.neighbours.join(', ') || 'none'}`,
    ...m.shared.map((s) => `  shares      ${s}`),
    ...m.own.map((s) => `  own         ${s}`),
    ...m.notShared.map((s) => `  not shared  ${s}`),
  ];
}
