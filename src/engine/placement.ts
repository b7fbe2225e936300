import { invalid } from '../core/errors.js';
import type { PlacedIn } from '../core/types.js';
import { Machines, type MachineEngine } from './machines.js';
import type { RunRequest } from './request.js';

/**
 * `run --machine NAME`: where the container goes, or why it cannot, before anything is made. The
 * machine must exist and run, the kind is hybrid (a container inside a VM), and the container
 * shares the machine's network: it takes no network of its own; -p publishes to the machine's address.
 */
export async function placeInMachine(engine: MachineEngine, req: RunRequest): Promise<PlacedIn> {
  if (req.kind !== 'hybrid') throw invalid(`--machine places a container inside a machine's VM, which is the hybrid kind, not --as ${req.kind}`, 'drop --as, or use --as hybrid');
  if (req.network !== 'bridge') throw invalid(`--network ${req.network} is not available with --machine: the container uses its machine's network`, 'drop --network');
  return new Machines(engine).placement(req.machine ?? '', req.memoryBytes);
}
