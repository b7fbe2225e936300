import { runDriverContract } from './driver-contract.js';

// The VM driver against real QEMU (TCG on a host where the KVM probe fails, so boots take
// about 1.5 s and stop/exec round trips are slower than a container's), on isola's own guest
// kernel (the default; vm-cloud-kernel.test.ts runs the same on Debian's): no known gaps.
runDriverContract('vm', { stopGraceSec: 8, timeoutSec: 90, kernel: { choice: 'isola', release: /^6\.1\.\d+-isola$/ } });
