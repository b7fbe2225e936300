/**
 * Names of the host-side objects isola creates. Every one carries the `isola` prefix so that
 * cleanup (and a person) can find them; interface names are at most 15 characters (IFNAMSIZ).
 */
export const BRIDGE = 'isola0';
export const SUBNET = '10.77.0.0/16'; // one private /16 that isola owns; see docs/ARCHITECTURE.md
export const GATEWAY = '10.77.0.1';
export const PREFIX = 16;

export const vethName = (id: string): string => `isolav${id.slice(0, 9)}`;
export const tapName = (id: string): string => `isolat${id.slice(0, 9)}`;
export const netnsName = (id: string): string => `isola-${id.slice(0, 12)}`;

/** A locally administered MAC derived from the instance id, so it is stable across restarts. */
export function macFor(id: string): string {
  const b = id.slice(0, 10).match(/../g) ?? [];
  return ['02', ...b].join(':');
}
