import type { Stats } from '../../core/types.js';

/**
 * The VM driver measures the guest (its /proc/meminfo and /proc/stat, QEMU's host memory); in
 * the hybrid kind the guest exists for the one container, so those are the instance's figures.
 * The limit reported is the container's cgroup limit when one was set, not the guest's RAM.
 */
export function hybridStats(vmStats: Stats, containerLimit: number | undefined): Stats {
  return { ...vmStats, memoryLimitBytes: containerLimit ?? vmStats.memoryLimitBytes };
}
