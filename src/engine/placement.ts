import { invalid } from '../core/errors.js';
import type { PlacedIn } from '../core/types.js';
import { Machines, type MachineEngine } from './machines.js';
import type { RunRequest } from './request.js';

/**
 * `run --machine NAME`: where the container goes, or why it cannot, before anything is made. The
 * machine must exist and run, the kind is hybrid (a container inside a VM). The container gets a
 * network namespace of its own in the guest: an address on the default network (isola0), which
 * the machine routes to it, or on a user network (--network NAME), whose subnet the host routes
 * to the machine for that address, or with --network none only loopback; -p publishes to its
 * address.
 */
export async function placeInMachine(engine: MachineEngine, req: RunRequest): Promise<PlacedIn> {
  if (req.kind !== 'hybrid') throw invalid(`--machine places a container inside a machine's VM, which is the hybrid kind, not --as ${req.kind}`, 'drop --as, or use --as hybrid');
  return { ...(await new Machines(engine).placement(req.machine ?? '', req.memoryBytes)), netns: true };
}
