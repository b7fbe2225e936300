import fs from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';

/**
 * Every directory a cgroup path has on this host: one per v1 controller hierarchy, and the v2
 * (unified) one, wherever it is mounted (here cgroups are v1 with a v2 mount beside them).
 */
export function cgroupDirs(cgroupPath: string): string[] {
  const rel = cgroupPath.replace(/^\/+/, '');
  if (fs.existsSync(path.join(ROOT, 'cgroup.controllers'))) return [path.join(ROOT, rel)];
  let hierarchies: string[];
  try {
    hierarchies = fs.readdirSync(ROOT);
  } catch {
    return [];
  }
  // Co-mounted controllers appear once as a folder and again as symlinks (cpu -> cpu,cpuacct).
  return hierarchies.filter((h) => {
    try {
      return fs.lstatSync(path.join(ROOT, h)).isDirectory();
    } catch {
      return false;
    }
  }).map((h) => path.join(ROOT, h, rel));
}

/** Removes a cgroup (children first) where it exists and holds no process. Idempotent. */
export function removeCgroup(cgroupPath: string): void {
  for (const dir of cgroupDirs(cgroupPath)) removeTree(dir);
}

function removeTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // not there
  }
  for (const e of entries) if (e.isDirectory()) removeTree(path.join(dir, e.name));
  // A process that was just killed may still count as in the cgroup for a moment (EBUSY): that
  // moment is usually a millisecond or two (a VM's cgroup right after QEMU exits), so the waits
  // start at 1 ms and double, rather than a flat 25 ms that every run --rm VM paid once.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0, delay = 1; ; waited += delay, delay = Math.min(delay * 2, 50)) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') return; // gone: done
      if (waited >= 1000) break;
      Atomics.wait(pause, 0, 0, delay);
    }
  }
  // Still busy after a second: a process lives in it; the next cleanup or prune tries again.
}

export interface CgroupLimits {
  memoryBytes?: number;
  pids?: number;
  /** CPUs' worth of time per period (1.5 = one and a half CPUs). */
  cpus?: number;
}

const PERIOD_US = 100_000;

/**
 * Creates a cgroup for a process isola starts itself (not through an OCI runtime) in the
 * memory, pids and cpu controllers, wherever this host has them (v1 hierarchies, or v2), with
 * its limits. Returns the folders whose cgroup.procs the process must join.
 */
export function createCgroup(cgroupPath: string, limits: CgroupLimits): string[] {
  const rel = cgroupPath.replace(/^\/+/, '');
  const v2 = fs.existsSync(path.join(ROOT, 'cgroup.controllers'));
  const write = (file: string, value: string): void => fs.writeFileSync(file, value);
  if (v2) {
    const dir = path.join(ROOT, rel);
    fs.mkdirSync(dir, { recursive: true });
    if (limits.memoryBytes) write(path.join(dir, 'memory.max'), String(limits.memoryBytes));
    if (limits.pids) write(path.join(dir, 'pids.max'), String(limits.pids));
    if (limits.cpus) write(path.join(dir, 'cpu.max'), `${Math.round(limits.cpus * PERIOD_US)} ${PERIOD_US}`);
    return [dir];
  }
  const dirs: string[] = [];
  const controller = (name: string, apply: (dir: string) => void): void => {
    const base = path.join(ROOT, name);
    if (!fs.existsSync(base)) return;
    const dir = path.join(base, rel);
    fs.mkdirSync(dir, { recursive: true });
    apply(dir);
    dirs.push(dir);
  };
  controller('memory', (d) => {
    if (limits.memoryBytes) write(path.join(d, 'memory.limit_in_bytes'), String(limits.memoryBytes));
  });
  controller('pids', (d) => {
    if (limits.pids) write(path.join(d, 'pids.max'), String(limits.pids));
  });
  controller('cpu', (d) => {
    if (limits.cpus) {
      write(path.join(d, 'cpu.cfs_period_us'), String(PERIOD_US));
      write(path.join(d, 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * PERIOD_US)));
    }
  });
  return dirs;
}
