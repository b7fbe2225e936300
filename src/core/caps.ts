import fs from 'node:fs';
import { invalid } from './errors.js';

/** Docker's default capability set: what a container keeps unless told otherwise. */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability Linux 6.1 knows, in bit order (capability.h). */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name the same capability. */
export function normalizeCap(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL') return 'ALL';
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!ALL_CAPS.includes(full)) throw invalid(`unknown capability "${name}"`, 'use a name from capabilities(7), for example NET_ADMIN, or ALL');
  return full;
}

/**
 * The effective set after --cap-add/--cap-drop, applied in Docker's order (drop, then add),
 * within `bounding`: no runtime can grant a capability its caller's bounding set lacks, so
 * --privileged means "everything we have", as Podman does it.
 */
export function effectiveCaps(add: string[], drop: string[], privileged: boolean, bounding: readonly string[] = ALL_CAPS): string[] {
  let caps: string[];
  if (privileged) caps = [...ALL_CAPS];
  else {
    caps = drop.includes('ALL') ? [] : DEFAULT_CAPS.filter((c) => !drop.includes(c));
    caps = add.includes('ALL') ? [...ALL_CAPS] : [...new Set([...caps, ...add])];
  }
  return caps.filter((c) => bounding.includes(c)).sort((a, b) => ALL_CAPS.indexOf(a) - ALL_CAPS.indexOf(b));
}

/** The capability bounding set of this process (CapBnd in /proc/self/status), by name. */
export function processBoundingCaps(status = fs.readFileSync('/proc/self/status', 'utf8')): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  if (!hex) return [...ALL_CAPS];
  const bits = BigInt(`0x${hex}`);
  return ALL_CAPS.filter((_, i) => (bits >> BigInt(i)) & 1n);
}
