import { runDriverContract } from './driver-contract.js';

// The VM driver on Debian's cloud kernel (ISOLA_VM_KERNEL=cloud, the fallback and the compare
// arm of isola's own kernel), its modules loaded by init from the initramfs: no known gaps.
runDriverContract('vm', { stopGraceSec: 8, timeoutSec: 90, kernel: { choice: 'cloud', release: /^6\.1\.0-\d+-cloud-amd64$/ } });
