import type { InstanceSpec, Observed, StoredData } from '../core/types.js';

/**
 * Machines (`isola machine`): long-lived VMs that host containers (`run --machine`). The engine
 * reaches them through this interface (the registry loads the implementation,
 * drivers/machine/host.ts), as it reaches instances through Driver. A machine is a VM of the VM
 * driver whose workload waits for containers; `spec` is that VM's spec, `data` the VM driver's.
 */
export interface MachineHost {
  /** Builds the machine's disk (with `diskBytes` of room) and prepares the VM; nothing is started. */
  create(spec: InstanceSpec, diskBytes: number): Promise<StoredData>;
  /** Boots it; `checkpoint` gets the data as soon as a process exists, before anything waits on it. */
  start(spec: InstanceSpec, data: StoredData, checkpoint: (data: StoredData) => void): Promise<StoredData>;
  observe(spec: InstanceSpec, data: StoredData): Promise<Observed>;
  /** SIGTERM to its workload, which stops every container (each gets `timeoutSec`), then powers off. */
  stop(spec: InstanceSpec, data: StoredData, timeoutSec: number): Promise<void>;
  /** Ends QEMU if alive, releases its tap, shares and cgroup. Idempotent; data may be null. */
  cleanup(spec: InstanceSpec, data: StoredData | null): Promise<void>;
  /** Deletes its folders (disk included). */
  remove(spec: InstanceSpec, data: StoredData | null): Promise<void>;
  /** Host memory its VMM uses now (resident set), for inspect and the benchmarks; null when not running. */
  hostMemoryBytes(spec: InstanceSpec, data: StoredData): Promise<number | null>;
}
