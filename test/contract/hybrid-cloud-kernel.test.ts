import { runDriverContract } from './driver-contract.js';

// The hybrid driver on Debian's cloud kernel (ISOLA_VM_KERNEL=cloud, the fallback and the
// compare arm of isola's own kernel): runc in the guest as on isola's kernel. No known gaps.
runDriverContract('hybrid', { stopGraceSec: 10, timeoutSec: 120, kernel: { choice: 'cloud', release: /^6\.1\.0-\d+-cloud-amd64$/ } });
