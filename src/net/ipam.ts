import { IsolaError } from '../core/errors.js';
import { GATEWAY, SUBNET } from './names.js';

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
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
