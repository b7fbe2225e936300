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

/**
 * Bytes read and written on block devices by the cgroup: v2's io.stat (one line per device,
 * `rbytes=` and `wbytes=`), v1's blkio.throttle.io_service_bytes (`MAJ:MIN Read|Write N`).
 */
export function parseBlockIo(text: string, v2: boolean): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    if (v2) {
      read += Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
      write += Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
    } else {
      const m = /^\d+:\d+ (Read|Write) (\d+)$/.exec(line.trim());
      if (m?.[1] === 'Read') read += Number(m[2]);
      if (m?.[1] === 'Write') write += Number(m[2]);
    }
  }
  return { read, write };
}

function blockIo(cgroupsPath: string, v2: boolean): { read: number; write: number } | null {
  try {
    return parseBlockIo(fs.readFileSync(cgroupFile(cgroupsPath, 'blkio', v2 ? 'io.stat' : 'blkio.throttle.io_service_bytes'), 'utf8'), v2);
  } catch {
    return null;
  }
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
  const io = blockIo(cgroupsPath, v2);
  return {
    time: new Date().toISOString(),
    cpuNanos: cpu,
    memoryBytes: mem,
    memoryLimitBytes: limit,
    pids,
    netRxBytes: net.rx,
    netTxBytes: net.tx,
    hostOverheadBytes: monitorBytes,
    blockReadBytes: io?.read ?? null,
    blockWriteBytes: io?.write ?? null,
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
