import { runDriverContract } from './driver-contract.js';

// The fourth kind: containers placed in one machine (`run --machine`), a long-lived VM on
// isola's guest kernel (TCG here) whose guest runs each under conmon and runc, in a network
// namespace of its own (on the default network, or on a user network whose addresses the host
// routes to the machine). The suite creates the machine once; every instance is a container in it.
const noSnapshots = 'a container in a machine keeps its files on the machine\'s disk beside other containers\': a disk snapshot would take them all, so isola snapshot is refused with --machine (isola cp copies files out)';
runDriverContract('hybrid', {
  machine: true,
  stopGraceSec: 8,
  timeoutSec: 120,
  skip: [
    { reason: noSnapshots, tests: ['snapshot restore brings back the root file system exactly: a write, a snapshot, a change, a restore, a read'] },
  ],
});
