import net from 'node:net';
import { IsolaError, invalid } from '../core/errors.js';
import { GATEWAY, SUBNET } from './names.js';

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** An IPv4 prefix: its first address as a number and its length. */
export interface Cidr {
  base: number;
  bits: number;
}

export function cidrText(c: Cidr): string {
  return `${intToIp(c.base)}/${c.bits}`;
}

export const cidrSize = (c: Cidr): number => 2 ** (32 - c.bits);

/** Parses `A.B.C.D/N`; null when it is not one (or has host bits set). */
export function parseCidr(text: string): Cidr | null {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text);
  if (!m || !net.isIPv4(m[1] ?? '')) return null;
  const bits = Number(m[2]);
  if (bits > 32) return null;
  const base = ipToInt(m[1] ?? '');
  if (base % 2 ** (32 - bits) !== 0) return null;
  return { base, bits };
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const n = ipToInt(ip);
  return n >= c.base && n < c.base + cidrSize(c);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

/** The subnet an address with a prefix length belongs to (10.77.0.5/16 -> 10.77.0.0/16). */
export function subnetOf(ip: string, bits: number): Cidr {
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipToInt(ip) / size) * size, bits };
}

/**
 * The lowest free address of the subnet, skipping network, gateway and broadcast. The caller
 * holds the state database's write lock, so two isola processes never get the same address.
 */
export function nextFreeIp(used: Iterable<string>, subnet = SUBNET, gateway = GATEWAY): string {
  const [base, bits] = subnet.split('/');
  const size = 2 ** (32 - Number(bits));
  const first = ipToInt(base ?? '0.0.0.0');
  const taken = new Set<number>([...used].map(ipToInt));
  taken.add(ipToInt(gateway));
  for (let i = 1; i < size - 1; i++) if (!taken.has(first + i)) return intToIp(first + i);
  throw new IsolaError('UNAVAILABLE', `no free address left in ${subnet}`, 'remove stopped instances with isola rm');
}

/** Where user networks get their subnets when --subnet is not given: /24s of 10.78.0.0/15. */
export const USER_POOL = parseCidr('10.78.0.0/15') as Cidr;
export const USER_SUBNET_BITS = 24;

/**
 * The first /24 of the pool that overlaps none of `taken` (other networks' subnets and the host's
 * routes). The caller holds the locks that make the choice race-free.
 */
export function nextFreeSubnet(taken: readonly Cidr[], pool = USER_POOL, bits = USER_SUBNET_BITS): Cidr {
  const step = 2 ** (32 - bits);
  for (let base = pool.base; base < pool.base + cidrSize(pool); base += step) {
    const c = { base, bits };
    if (!taken.some((t) => cidrsOverlap(t, c))) return c;
  }
  throw new IsolaError('RESOURCE_EXHAUSTED', `no free /${bits} subnet left in ${cidrText(pool)}`, 'remove unused networks (isola network prune), or give --subnet');
}

/**
 * Checks a `--subnet` (and `--gateway`): a network address with room for a gateway and one
 * instance; the gateway defaults to the first address.
 */
export function checkSubnet(subnetText: string, gatewayText?: string): { subnet: Cidr; gateway: string } {
  const subnet = parseCidr(subnetText);
  if (!subnet) throw invalid(`invalid --subnet "${subnetText}"`, 'give an IPv4 network address with its prefix length, e.g. --subnet 10.90.0.0/24');
  if (subnet.bits < 8 || subnet.bits > 29) throw invalid(`--subnet ${subnetText}: the prefix length must be between /8 and /29`, 'give a prefix such as /24');
  if (gatewayText === undefined) return { subnet, gateway: intToIp(subnet.base + 1) };
  if (!net.isIPv4(gatewayText)) throw invalid(`invalid --gateway "${gatewayText}"`, 'give an IPv4 address inside the subnet');
  const g = ipToInt(gatewayText);
  if (!cidrContains(subnet, gatewayText) || g === subnet.base || g === subnet.base + cidrSize(subnet) - 1) {
    throw invalid(`--gateway ${gatewayText} is not a host address of ${subnetText}`, 'give an address inside the subnet, neither its first nor its last');
  }
  return { subnet, gateway: gatewayText };
}
