import { runDriverContract } from './driver-contract.js';

// The container driver has no known gaps: every contract test runs against real runc + conmon.
runDriverContract('container', { stopGraceSec: 2, timeoutSec: 30 });
