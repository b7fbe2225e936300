import { ALL_CAPS } from '../core/caps.js';
import { parseSections } from './script.js';

/** What one kernel says about one process: the raw material of a security profile. */
export interface ProcessFacts {
  kernel: string; // uname -r of the kernel that runs the process
  bootId: string; // that kernel's boot id: equal boot ids mean one and the same kernel
  command: string; // Name: from status
  uid: number; // effective uid
  capEffHex: string;
  capEff: string[];
  /** The bounding set of that kernel's pid 1 (or the measuring shell): every capability a process there can hold. */
  kernelCaps: string[];
  /** 0 disabled, 1 strict, 2 filter (Seccomp: in /proc/PID/status). */
  seccompMode: number | null;
  seccompFilters: number | null;
  noNewPrivs: boolean | null;
  /** /proc/PID/attr/current, or null when no LSM answers (the read fails with EINVAL). */
  lsmLabel: string | null;
  /** Active LSMs (/sys/kernel/security/lsm), empty when securityfs says none or is not mounted. */
  lsms: string[];
  uidMap: string[];
  namespaces: Record<string, string>; // ns name -> "pid:[4026531836]"
  rootNamespaces: Record<string, string>; // the same for pid 1 of that kernel
  /** 'pid 1', or 'the measuring shell' where pid 1's links cannot be read (as in some sandboxes). */
  rootNamespacesOf: string;
  mounts: MountEntry[];
  cgroups: string[];
  limits: { memoryBytes: number | null; cpuQuota: string | null; pids: number | null };
  memTotalBytes: number | null;
  cpus: number | null;
}

export interface MountEntry {
  root: string; // the path inside the source file system that is mounted (bind mounts)
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
}

/** CapEff is a hex bit mask; bit n is the nth capability in capability.h order. */
export function decodeCaps(hex: string): string[] {
  const mask = BigInt(`0x${hex || '0'}`);
  return ALL_CAPS.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

function field(status: string, key: string): string | null {
  const m = new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status);
  return m ? (m[1] ?? '').trim() : null;
}

function nsTable(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const [name, link] = l.trim().split(/\s+/);
    if (name && link) out[name] = link;
  }
  return out;
}

/** /proc/PID/mountinfo: "id parent major:minor root mountpoint options ... - fstype source superoptions". */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const l of text.split('\n')) {
    const dash = l.indexOf(' - ');
    if (dash < 0) continue;
    const a = l.slice(0, dash).split(' ');
    const b = l.slice(dash + 3).split(' ');
    out.push({
      root: unescape(a[3] ?? ''),
      mountPoint: unescape(a[4] ?? ''),
      options: (a[5] ?? '').split(','),
      fsType: b[0] ?? '',
      source: unescape(b[1] ?? ''),
    });
  }
  return out;
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function num(s: string | undefined): number | null {
  if (s === undefined || s === '' || s === 'max') return null;
  const n = Number(s);
  // cgroup v1 writes "no limit" as a number near 2^63.
  return Number.isFinite(n) && n < 2 ** 62 ? n : null;
}

function limitsOf(text: string): ProcessFacts['limits'] {
  const out: ProcessFacts['limits'] = { memoryBytes: null, cpuQuota: null, pids: null };
  for (const l of text.split('\n')) {
    const [k, ...v] = l.trim().split(/\s+/);
    if (k === 'memory') out.memoryBytes = num(v[0]);
    if (k === 'pids') out.pids = num(v[0]);
    if (k === 'cpu' && v[0] && v[0] !== 'max' && v[0] !== '-1') out.cpuQuota = `${v[0]}/${v[1] ?? '?'}`;
  }
  return out;
}

/** Parses the fact script's output (see script.ts). */
export function parseFacts(text: string): ProcessFacts {
  const s = parseSections(text);
  if (!s.has('end')) throw new Error(`the fact script did not finish: ${text.slice(-200)}`);
  const status = s.get('status') ?? '';
  const capEffHex = field(status, 'CapEff') ?? '';
  const seccomp = field(status, 'Seccomp');
  const filters = field(status, 'Seccomp_filters');
  const nnp = field(status, 'NoNewPrivs');
  const attr = (s.get('attr') ?? '').trim();
  const mem = /MemTotal:\s+(\d+) kB/.exec(s.get('meminfo') ?? '');
  return {
    kernel: (s.get('uname') ?? '').trim(),
    bootId: (s.get('boot_id') ?? '').trim(),
    command: field(status, 'Name') ?? '',
    uid: Number((field(status, 'Uid') ?? '').split(/\s+/)[1] ?? -1),
    capEffHex,
    capEff: decodeCaps(capEffHex),
    kernelCaps: decodeCaps(field(s.get('rootcaps') ?? '', 'CapBnd') ?? ''),
    seccompMode: seccomp === null ? null : Number(seccomp),
    seccompFilters: filters === null ? null : Number(filters),
    noNewPrivs: nnp === null ? null : nnp === '1',
    lsmLabel: attr === '' || /invalid argument|no such|cannot open|not found|permission denied/i.test(attr) ? null : attr,
    lsms: (s.get('lsm') ?? '').trim().split(',').filter(Boolean),
    uidMap: (s.get('uid_map') ?? '').split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).filter(Boolean),
    namespaces: nsTable(s.get('ns') ?? ''),
    rootNamespaces: nsTable(s.get('rootns') ?? ''),
    rootNamespacesOf: (s.get('rootns_pid') ?? '').trim() === '1' ? 'pid 1' : 'the measuring shell',
    mounts: parseMountinfo(s.get('mountinfo') ?? ''),
    cgroups: (s.get('cgroup') ?? '').split('\n').filter(Boolean),
    limits: limitsOf(s.get('limits') ?? ''),
    memTotalBytes: mem ? Number(mem[1]) * 1024 : null,
    cpus: num((s.get('cpus') ?? '').trim()),
  };
}
