import fs from 'node:fs';
import type { Cidr } from './ipam.js';

/** One IPv4 route of the host's main table: where it goes and through which device. */
export interface HostRoute {
  dev: string;
  dest: Cidr;
}

/** /proc/net/route stores addresses as little-endian hex. */
function hexToInt(hex: string): number {
  const n = parseInt(hex, 16);
  return ((n & 0xff) * 2 ** 24) + (((n >>> 8) & 0xff) << 16) + (((n >>> 16) & 0xff) << 8) + ((n >>> 24) & 0xff);
}

function maskBits(mask: number): number {
  let bits = 0;
  for (let m = mask; m & 0x80000000 && bits < 32; m = (m << 1) >>> 0) bits++;
  return bits;
}

/**
 * The routes of /proc/net/route (text passed in: pure), without default routes, which every
 * subnet would overlap: a subnet only clashes with routes to networks.
 */
export function parseRoutes(text: string): HostRoute[] {
  const out: HostRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const bits = maskBits(hexToInt(f[7] ?? '0'));
    if (bits === 0) continue;
    out.push({ dev: f[0] ?? '', dest: { base: hexToInt(f[1] ?? '0'), bits } });
  }
  return out;
}

/** The host's routes now: connected networks of every interface, isola's bridges among them. */
export function hostRoutes(): HostRoute[] {
  try {
    return parseRoutes(fs.readFileSync('/proc/net/route', 'utf8'));
  } catch {
    return [];
  }
}
