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
  /** address/prefix for eth0, e.g. 10.77.0.5/16 */
  ip?: string;
  gateway?: string;
  readOnly?: boolean;
  /** --ulimit: "name soft hard" (-1 unlimited), set on the workload and every exec session. */
  limits?: string[];
}

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
      case 'l': (r.limits ??= []).push(v); break;
    }
  }
  return r;
}
