/**
 * The record encoding shared by the per-instance config (/isola/config in the initramfs) and
 * the agent's exec requests: NUL-terminated strings, each tagged by its first byte. Chosen
 * over JSON because init.c parses it in a dozen lines and it carries any byte but NUL, which
 * argv and env cannot contain anyway.
 */
export interface GuestRecords {
  argv: string[];
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  /** address/prefix for eth0, e.g. 10.77.0.5/16 (older configs; `interfaces` replaces it) */
  ip?: string;
  /** The default route's gateway. */
  gateway?: string;
  readOnly?: boolean;
  /** virtiofs shares init mounts before the workload starts: the device's tag, where, read-only. */
  shares?: { tag: string; target: string; readOnly: boolean }[];
  /** exec only: run init's own program argv[0] (isola cp: tar-c, tar-x, stat), chrooted into `root` when given. */
  builtin?: boolean;
  root?: string;
  /** tmpfs mounts init makes before the workload starts. */
  tmpfs?: { target: string; readOnly: boolean; sizeBytes?: number; mode?: number; noExec?: boolean }[];
  /** Run on a pseudo-terminal (the workload with -t, or an exec -t). */
  tty?: boolean;
  /** The workload's stdin: kept open for clients, or open until the first client's end (-i). */
  stdin?: 'open' | 'once';
  /** The terminal's size (an exec -t; the workload's comes on the kernel command line). */
  size?: { rows: number; cols: number };
  // ---- networking: every NIC, and the guest's /etc files ----
  /** Each NIC, found by its MAC, named and addressed: eth0 first. */
  interfaces?: GuestInterface[];
  /** The guest's /etc/hosts and /etc/resolv.conf (bind-mounted over the image's by init). */
  hosts?: string;
  resolv?: string;
  /** --ulimit: "name soft hard" (-1 unlimited), set on the workload and every exec session. */
  limits?: string[];
}

export interface GuestInterface {
  mac: string;
  name: string;
  /** address/prefix */
  ip: string;
}

const FIELD = /[\t\0]/;

export function encodeRecords(r: GuestRecords): Buffer {
  const out: string[] = [];
  const add = (tag: string, v: string): void => {
    if (v.includes('\0')) throw new Error(`a NUL byte cannot be passed to the guest (in "${v.replace(/\0/g, '\\0')}")`);
    out.push(tag + v + '\0');
  };
  for (const a of r.argv) add('a', a);
  for (const e of r.env) add('e', e);
  if (r.workdir) add('w', r.workdir);
  if (r.user) add('u', r.user);
  if (r.hostname) add('h', r.hostname);
  if (r.ip) add('i', r.ip);
  if (r.gateway) add('g', r.gateway);
  if (r.readOnly) add('r', '1');
  if (r.builtin) add('B', '1');
  if (r.root) add('R', r.root);
  // Tab-separated fields, the path last (it may hold anything but NUL).
  for (const m of r.shares ?? []) {
    if (FIELD.test(m.tag)) throw new Error(`a share tag cannot hold a tab: ${m.tag}`);
    add('v', `${m.tag}\t${m.readOnly ? 1 : 0}\t${m.target}`);
  }
  for (const t of r.tmpfs ?? []) add('t', `${t.sizeBytes ?? 0}\t${(t.mode ?? 0o1777).toString(8)}\t${t.readOnly ? 1 : 0}\t${t.noExec ? 1 : 0}\t${t.target}`);
  if (r.tty) add('y', '1');
  if (r.stdin) add('s', r.stdin);
  if (r.size) add('z', `${Math.floor(r.size.rows)} ${Math.floor(r.size.cols)}`);
  for (const i of r.interfaces ?? []) add('n', `${i.mac} ${i.name} ${i.ip}`);
  if (r.hosts !== undefined) add('H', r.hosts);
  if (r.resolv !== undefined) add('D', r.resolv);
  for (const l of r.limits ?? []) add('l', l);
  return Buffer.from(out.join(''), 'utf8');
}

export function decodeRecords(buf: Buffer): GuestRecords {
  const r: GuestRecords = { argv: [], env: [] };
  for (const rec of buf.toString('utf8').split('\0')) {
    if (!rec) continue;
    const v = rec.slice(1);
    switch (rec[0]) {
      case 'a': r.argv.push(v); break;
      case 'e': r.env.push(v); break;
      case 'w': r.workdir = v; break;
      case 'u': r.user = v; break;
      case 'h': r.hostname = v; break;
      case 'i': r.ip = v; break;
      case 'g': r.gateway = v; break;
      case 'r': r.readOnly = v === '1'; break;
      case 'B': r.builtin = v === '1'; break;
      case 'R': r.root = v; break;
      case 'v': {
        const [tag = '', ro, ...target] = v.split('\t');
        (r.shares ??= []).push({ tag, readOnly: ro === '1', target: target.join('\t') });
        break;
      }
      case 't': {
        const [size, mode, ro, noexec, ...target] = v.split('\t');
        (r.tmpfs ??= []).push({
          target: target.join('\t'), readOnly: ro === '1', noExec: noexec === '1', mode: parseInt(mode ?? '1777', 8),
          ...(Number(size) > 0 ? { sizeBytes: Number(size) } : {}),
        });
        break;
      }
      case 'y': r.tty = v === '1'; break;
      case 's': if (v === 'open' || v === 'once') r.stdin = v; break;
      case 'z': {
        const [rows, cols] = v.split(' ').map(Number);
        if (rows !== undefined && cols !== undefined) r.size = { rows, cols };
        break;
      }
      case 'n': {
        const [mac = '', name = '', ip = ''] = v.split(' ');
        (r.interfaces ??= []).push({ mac, name, ip });
        break;
      }
      case 'H': r.hosts = v; break;
      case 'D': r.resolv = v; break;
      case 'l': (r.limits ??= []).push(v); break;
    }
  }
  return r;
}
