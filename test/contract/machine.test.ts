import { runDriverContract } from './driver-contract.js';

// The fourth kind: containers placed in one machine (`run --machine`), a long-lived VM on
// isola's guest kernel (TCG here) whose guest runs each under conmon and runc, in a network
// namespace of its own. The suite creates the machine once; every instance is a container in it.
const noUserNetworks = 'a container in a machine has a network namespace, an address of its own on the default network (routed by the machine) or none, and its own /etc files; user networks and network connect are not built for it: the machine has one NIC, on isola0, fixed at boot, so a user network would need the host to route that network\'s subnet to the machine (proxy ARP on the network\'s bridge, its isolation rules kept)';
const noSnapshots = 'a container in a machine keeps its files on the machine\'s disk beside other containers\': a disk snapshot would take them all, so isola snapshot is refused with --machine (isola cp copies files out)';
runDriverContract('hybrid', {
  machine: true,
  stopGraceSec: 8,
  timeoutSec: 120,
  skip: [
    { reason: noUserNetworks, tests: ['finds another instance of its user network by name, also one that joined after it started', 'joins a second network as eth1, the default route staying on eth0'] },
    { reason: noSnapshots, tests: ['snapshot restore brings back the root file system exactly: a write, a snapshot, a change, a restore, a read'] },
  ],
});
