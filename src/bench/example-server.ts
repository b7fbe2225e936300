const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * The server and instance sizes of the common comparison's density example (docs/CLAIMS.md):
 * "128GB RAM and 32 CPU cores", VMs "with 4GB RAM each", containers "with 512MB each" (taken as GiB, MiB).
 */
export const EXAMPLE_SERVER = { memoryBytes: 128 * GiB, cores: 32, vmBytes: 4 * GiB, containerBytes: 512 * MiB };
