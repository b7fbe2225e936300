import { runDriverContract } from './driver-contract.js';
import { driverFor } from '../../src/drivers/registry.js';

// The container driver has no known gaps: every contract test runs against real runc + conmon.
runDriverContract(driverFor('container'), { timeoutSec: 30 });
