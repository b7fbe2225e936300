import { runDriverContract } from './driver-contract.js';

// The hybrid driver against real QEMU (TCG here: the KVM probe fails under this host's nested
// virtualization) with runc inside the guest, on isola's own guest kernel (the default;
// hybrid-cloud-kernel.test.ts runs the same on Debian's). Every boot also starts runc, so allow
// more time than for a plain VM. No known gaps.
runDriverContract('hybrid', { stopGraceSec: 10, timeoutSec: 120, kernel: { choice: 'isola', release: /^6\.1\.\d+-isola$/ } });
