import fs from 'node:fs';
import { IsolaError } from '../core/errors.js';
import { run } from '../util/exec.js';
import { ensureBridge, withNetLock } from './bridge.js';
import { MACHINE_TABLE } from './machine-filter.js';
import { BRIDGE } from './names.js';
import { TABLE, elemKey, nft, nftOk } from './nft.js';

/**
 * The host's half of user networks for containers in a machine (docs/MACHINES.md, "User
 * networks"). A machine has one NIC, on isola0, fixed at boot; a container of it on a user
 * network has an address of that network's subnet, which the host routes to the machine:
 *
 * - a /32 route to the address via the machine's address on isola0 (`proto 77`, isola's mark);
 * - a proxy ARP entry for the address on the network's bridge (`ip neigh add proxy`, the
 *   bridge's `proxy_delay` 0), so the network's other instances reach it as one of them;
 * - in `table ip isola`: the set `placed` (such addresses) and the set `routed` (address .
 *   subnet of its network), and two rules of the forward chain, right after the published-ports
 *   rule: a packet from isola0 whose source is such an address may go to its own network's
 *   subnet, and to no other isola network (the outside, through NAT, as any instance);
 * - in `table bridge isola-machines` (the machines' table): the sets `placedip` and `placedby`
 *   (address . machine tap), and a prerouting rule dropping a frame that carries such a source
 *   address from any other port of isola0: no instance borrows the address to pass the rule above.
 *
 * Everything is named by the address; cleanup removes it from the instance's spec alone.
 */
export const PLACED_PROTO = 77;

export interface PlacedRoute {
  /** The container's address on the user network, and the network's bridge, gateway and prefix. */
  ip: string;
  bridge: string;
  gateway: string;
  prefixLength: number;
  /** The network's subnet, A.B.C.D/N. */
  subnet: string;
  /** The machine's address on isola0, and its tap there. */
  via: string;
  tap: string;
}

const ACCEPT = 'isola: a container in a machine reaches its own user network';
const DROP = 'isola: a container in a machine reaches no other network';
const SPOOF = 'isola: a machine container\'s user-network address comes from its machine\'s tap only';

/** The sets and rules `table ip isola` gets the first time (position: the published-ports rule's handle). */
export function ipTableAdditions(after: number): string[] {
  return [
    `add set ip ${TABLE} placed { type ipv4_addr; }`,
    `add set ip ${TABLE} routed { type ipv4_addr . ipv4_addr; flags interval; }`,
    // Each lands right after the published-ports rule: the drop first, so the accept ends up before it.
    `add rule ip ${TABLE} forward position ${after} iifname "${BRIDGE}" ip saddr @placed ip daddr @subnets drop comment "${DROP}"`,
    `add rule ip ${TABLE} forward position ${after} iifname "${BRIDGE}" ip saddr . ip daddr @routed accept comment "${ACCEPT}"`,
  ];
}

/** The sets and chain `table bridge isola-machines` gets the first time. */
export function bridgeTableAdditions(): string[] {
  return [
    `add table bridge ${MACHINE_TABLE}`,
    `add set bridge ${MACHINE_TABLE} placedip { type ipv4_addr; }`,
    `add set bridge ${MACHINE_TABLE} placedby { type ipv4_addr . ifname; }`,
    `add chain bridge ${MACHINE_TABLE} spoof { type filter hook prerouting priority filter; policy accept; }`,
    `add rule bridge ${MACHINE_TABLE} spoof ether type ip ip saddr @placedip ip saddr . iifname != @placedby drop comment "${SPOOF}"`,
  ];
}

/** The elements of one routed address, in both tables: family, table, set and the element's text as nft lists it. */
function elementsOf(r: PlacedRoute): { family: 'ip' | 'bridge'; table: string; set: string; key: string; text: string }[] {
  return [
    { family: 'ip', table: TABLE, set: 'placed', key: r.ip, text: r.ip },
    { family: 'ip', table: TABLE, set: 'routed', key: `${r.ip} . ${r.subnet}`, text: `${r.ip} . ${r.subnet}` },
    { family: 'bridge', table: MACHINE_TABLE, set: 'placedip', key: r.ip, text: r.ip },
    { family: 'bridge', table: MACHINE_TABLE, set: 'placedby', key: `${r.ip} . ${r.tap}`, text: `${r.ip} . "${r.tap}"` },
  ];
}

/** The commands that add or delete one routed address's elements (only those `want` keeps). */
export function elementCommands(verb: 'add' | 'delete', r: PlacedRoute, want: (key: string) => boolean = () => true): string[] {
  return elementsOf(r).filter((e) => want(`${e.family} ${e.set} ${e.key}`)).map((e) => `${verb} element ${e.family} ${e.table} ${e.set} { ${e.text} }`);
}

/** nft's script for `lines`, in one transaction. */
const apply = (lines: string[], what: string): Promise<void> => nftOk(`${lines.join('\n')}\n`, what, 'see nft list ruleset');

/** The handle of the forward chain's published-ports rule, and whether the additions are there. */
async function forwardChain(): Promise<{ dnat: number | null; added: boolean }> {
  const r = await nft(['-j', 'list', 'chain', 'ip', TABLE, 'forward']);
  if (r.code !== 0) return { dnat: null, added: false };
  let dnat: number | null = null;
  let added = false;
  for (const o of (JSON.parse(r.stdout) as { nftables?: { rule?: { handle: number; comment?: string } }[] }).nftables ?? []) {
    if (o.rule?.comment?.startsWith('isola: published ports are reachable')) dnat = o.rule.handle;
    if (o.rule?.comment === ACCEPT) added = true;
  }
  return { dnat, added };
}

/** Makes both tables' additions when missing; the caller holds the network lock. */
async function ensureAdditions(): Promise<void> {
  const fwd = await forwardChain();
  const cmds: string[] = [];
  if (!fwd.added) {
    if (fwd.dnat === null) throw new IsolaError('INTERNAL', `isola's nftables table has no forward chain with its published-ports rule`, 'see nft list table ip isola; isola system prune removes it with the last network');
    cmds.push(...ipTableAdditions(fwd.dnat));
  }
  if ((await nft(['list', 'chain', 'bridge', MACHINE_TABLE, 'spoof'])).code !== 0) cmds.push(...bridgeTableAdditions());
  if (cmds.length > 0) await apply(cmds, 'the rules of user networks in machines');
}

/** What the two tables' sets hold now (each element as its nft text). */
async function elementsNow(): Promise<Set<string>> {
  const out = new Set<string>();
  const read = async (family: string, table: string, set: string) => {
    const r = await nft(['-j', 'list', 'set', family, table, set]);
    if (r.code !== 0) return;
    for (const o of (JSON.parse(r.stdout) as { nftables?: { set?: { elem?: unknown[] } }[] }).nftables ?? []) {
      for (const e of o.set?.elem ?? []) out.add(`${family} ${set} ${elemKey(e)}`);
    }
  };
  await read('ip', TABLE, 'placed');
  await read('ip', TABLE, 'routed');
  await read('bridge', MACHINE_TABLE, 'placedip');
  await read('bridge', MACHINE_TABLE, 'placedby');
  return out;
}

/** Routes a container's address on a user network to its machine. Idempotent. */
export async function routeToMachine(r: PlacedRoute): Promise<void> {
  await ensureBridge({ bridge: r.bridge, gateway: r.gateway, prefixLength: r.prefixLength });
  await withNetLock(async () => {
    await ensureAdditions();
    const have = await elementsNow();
    const cmds = elementCommands('add', r, (k) => !have.has(k));
    if (cmds.length > 0) await apply(cmds, `the rules of ${r.ip}`);
    fs.writeFileSync(`/proc/sys/net/ipv4/neigh/${r.bridge}/proxy_delay`, '0\n');
    const route = await run('ip', ['route', 'replace', `${r.ip}/32`, 'via', r.via, 'dev', BRIDGE, 'proto', String(PLACED_PROTO)]);
    if (route.code !== 0) throw new IsolaError('INTERNAL', `cannot route ${r.ip} to the machine at ${r.via}: ${route.stderr.trim()}`, 'see ip route');
    const proxy = await run('ip', ['neigh', 'replace', 'proxy', r.ip, 'dev', r.bridge]);
    if (proxy.code !== 0) throw new IsolaError('INTERNAL', `cannot answer ARP for ${r.ip} on ${r.bridge}: ${proxy.stderr.trim()}`, 'see ip neigh show proxy');
  });
}

/** Undoes routeToMachine; what is already gone is skipped. Idempotent. */
export async function unrouteFromMachine(r: PlacedRoute): Promise<void> {
  await withNetLock(async () => {
    const have = await elementsNow();
    const cmds = elementCommands('delete', r, (k) => have.has(k));
    if (cmds.length > 0) await apply(cmds, `removing the rules of ${r.ip}`);
    if ((await run('ip', ['route', 'show', `${r.ip}/32`, 'proto', String(PLACED_PROTO)])).stdout.trim() !== '') {
      await run('ip', ['route', 'del', `${r.ip}/32`, 'proto', String(PLACED_PROTO)]);
    }
    if (fs.existsSync(`/sys/class/net/${r.bridge}`)) await run('ip', ['neigh', 'del', 'proxy', r.ip, 'dev', r.bridge]);
  });
}
