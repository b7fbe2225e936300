import fs from 'node:fs';

/**
 * Is `pid` a live process (a zombie has exited, for our purposes)? With `cmdlineIncludes`, also
 * whether its command line contains that text: the guard against a recycled pid for processes
 * whose command line names what they serve (QEMU's `-name isola-<id>`, a forwarder's port).
 */
export function processAlive(pid: number | null | undefined, opts: { cmdlineIncludes?: string } = {}): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    if (opts.cmdlineIncludes !== undefined && !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(opts.cmdlineIncludes)) return false;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}
