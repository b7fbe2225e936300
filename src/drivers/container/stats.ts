import fs from 'node:fs';
import type { Stats } from '../../core/types.js';

const CG = '/sys/fs/cgroup';

function readNum(file: string): number | null {
  try {
    const v = fs.readFileSync(file, 'utf8').trim();
    return v === 'max' ? null : Number(v);
  } catch {
    return null;
  }
}

/** cgroup v2 when the host mounts only the unified hierarchy; v1 (per-controller) otherwise. */
export function cgroupVersion(): 1 | 2 {
  return fs.existsSync(`${CG}/cgroup.controllers`) ? 2 : 1;
}

export function cgroupFile(cgroupsPath: string, controller: string, file: string): string {
  return cgroupVersion() === 2 ? `${CG}${cgroupsPath}/${file}` : `${CG}/${controller}${cgroupsPath}/${file}`;
}

/** How many times the kernel's OOM killer killed a process in this cgroup. */
export function oomKills(cgroupsPath: string): number {
  try {
    if (cgroupVersion() === 2) {
      const ev = fs.readFileSync(cgroupFile(cgroupsPath, 'memory', 'memory.events'), 'utf8');
      return Number(/oom_kill (\d+)/.exec(ev)?.[1] ?? 0);
    }
    const ctl = fs.readFileSync(cgroupFile(cgroupsPath, 'memory', 'memory.oom_control'), 'utf8');
    return Number(/oom_kill (\d+)/.exec(ctl)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function netBytes(veth: string | null): { rx: number | null; tx: number | null } {
  if (!veth) return { rx: null, tx: null };
  // The host side of the veth sees the container's transmit as its receive.
  return {
    rx: readNum(`/sys/class/net/${veth}/statistics/tx_bytes`),
    tx: readNum(`/sys/class/net/${veth}/statistics/rx_bytes`),
  };
}

export function containerStats(cgroupsPath: string, veth: string | null, monitorBytes: number | null): Stats {
  const v2 = cgroupVersion() === 2;
  const cpu = v2
    ? Number(/usage_usec (\d+)/.exec(fs.readFileSync(cgroupFile(cgroupsPath, 'cpu', 'cpu.stat'), 'utf8'))?.[1] ?? 0) * 1000
    : (readNum(cgroupFile(cgroupsPath, 'cpuacct', 'cpuacct.usage')) ?? 0);
  const mem = readNum(cgroupFile(cgroupsPath, 'memory', v2 ? 'memory.current' : 'memory.usage_in_bytes')) ?? 0;
  let limit = readNum(cgroupFile(cgroupsPath, 'memory', v2 ? 'memory.max' : 'memory.limit_in_bytes'));
  if (limit !== null && limit >= 2 ** 62) limit = null; // v1 reports "unlimited" as a huge number
  const pids = readNum(cgroupFile(cgroupsPath, 'pids', 'pids.current'));
  const net = netBytes(veth);
  return {
    time: new Date().toISOString(),
    cpuNanos: cpu,
    memoryBytes: mem,
    memoryLimitBytes: limit,
    pids,
    netRxBytes: net.rx,
    netTxBytes: net.tx,
    hostOverheadBytes: monitorBytes,
  };
}

/** Proportional set size of a process (shared pages split between their users), in bytes. */
export function pssBytes(pid: number): number | null {
  try {
    const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+) kB/m.exec(t)?.[1] ?? 0) * 1024;
  } catch {
    return null;
  }
}
