import { runDriverContract } from './driver-contract.js';

// The fourth kind: containers placed in one machine (`run --machine`), a long-lived VM on
// isola's guest kernel (TCG here) whose guest runs each under conmon and runc, in a network
// namespace of its own. The suite creates the machine once; every instance is a container in it.
const noUserNetworks = 'a container in a machine has a network namespace and an address of its own on the default network (routed by the machine) or none; user networks, network connect, and its own /etc/hosts and /etc/resolv.conf (--add-host, --dns, its name) are not built yet: it reads the machine\'s';
const noTerminal = 'the workload\'s monitor (conmon) runs in the guest, out of reach of a host client: run -i, run -t and attach are refused with --machine (exec on a terminal works: runc exec --tty over the agent)';
const noSnapshots = 'a container in a machine keeps its files on the machine\'s disk beside other containers\': a disk snapshot would take them all, so isola snapshot is refused with --machine (isola cp copies files out)';
runDriverContract('hybrid', {
  machine: true,
  stopGraceSec: 8,
  timeoutSec: 120,
  skip: [
    { reason: noUserNetworks, tests: ['finds another instance of its user network by name, also one that joined after it started', 'joins a second network as eth1, the default route staying on eth0', 'has its own name, --add-host entries and --dns servers in its /etc files', 'reaches the host\'s other networks through NAT, by name through --dns'] },
    { reason: noSnapshots, tests: ['snapshot restore brings back the root file system exactly: a write, a snapshot, a change, a restore, a read'] },
    { reason: noTerminal, tests: ['runs the workload on a terminal: input, window size, exit status, one stream in the log', 'follows window size changes of the client', 'attaches again after a client left, the workload running on meanwhile', 'passes stdin to a workload without a terminal, stdout and stderr apart'] },
  ],
});
