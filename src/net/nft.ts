import fs from 'node:fs';
import { IsolaError } from '../core/errors.js';
import { run } from '../util/exec.js';

/**
 * isola's nftables table, `table ip isola`: the only firewall state isola writes. Other tables
 * and the host's own policies are never read or changed. The table is made on first use with
 * every chain and rule in one transaction; what changes afterwards is data:
 *
 * - set `subnets`: every isola network's subnet; set `own`: each network's bridge . subnet.
 * - forward: traffic entering from one network's bridge to another network's subnet is dropped
 *   (networks are isolated from each other), and so are new connections from the host's other
 *   networks to an instance, except connections to a published port (DNAT).
 * - postrouting: instances' traffic leaving through a non-isola interface is masqueraded (NAT to
 *   the host's other networks); connections to a published port from an instance (hairpin) or
 *   from the host's own loopback are masqueraded so the replies come back through the host.
 * - prerouting and output jump to `publish` for addresses of the host itself; `publish` holds
 *   one DNAT rule per published port, its comment naming the instance.
 * - guard: a packet from an isola bridge addressed to 127.0.0.0/8 is dropped before routing:
 *   bridges have route_localnet on (for DNAT of the host's own loopback connections), which
 *   would otherwise let an instance reach services bound to the host's loopback.
 */
export const TABLE = 'isola';

/** The whole table, made at once (`nft -f`). */
export function tableScript(): string {
  return `table ip ${TABLE} {
  set subnets {
    type ipv4_addr; flags interval;
  }
  set own {
    type ifname . ipv4_addr; flags interval;
  }
  chain guard {
    type filter hook prerouting priority raw; policy accept;
    iifname "isola*" ip daddr 127.0.0.0/8 drop comment "isola: instances never reach the host's loopback"
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump publish comment "isola: published ports"
  }
  chain output {
    type nat hook output priority -100; policy accept;
    fib daddr type local jump publish comment "isola: published ports, from the host itself"
  }
  chain publish {
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname != "isola*" ip saddr @subnets masquerade comment "isola: NAT to the host's other networks"
    oifname "isola*" ip saddr @subnets ct status dnat masquerade comment "isola: instances reaching a published port"
    oifname "isola*" ip saddr 127.0.0.0/8 masquerade comment "isola: the host's loopback reaching a published port"
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct status dnat accept comment "isola: published ports are reachable from every network"
    iifname "isola*" ip daddr @subnets iifname . ip daddr != @own drop comment "isola: networks are isolated from each other"
    iifname != "isola*" ip daddr @subnets ct state new drop comment "isola: from outside, instances are reached through published ports only"
  }
}
`;
}

export interface NetworkRules {
  bridge: string;
  /** A.B.C.D/N */
  subnet: string;
}

/** One DNAT rule of the `publish` chain, as isola wrote it. */
export interface PublishRule {
  instanceId: string;
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  targetIp: string;
  targetPort: number;
}

const COMMENT = /^isola ([0-9a-f]{64}) (tcp|udp) (\d+\.\d+\.\d+\.\d+):(\d+) (\d+\.\d+\.\d+\.\d+):(\d+)$/;

export function publishComment(r: PublishRule): string {
  return `isola ${r.instanceId} ${r.protocol} ${r.hostIp}:${r.hostPort} ${r.targetIp}:${r.targetPort}`;
}

export function parsePublishComment(c: string): PublishRule | null {
  const m = COMMENT.exec(c);
  if (!m) return null;
  return { instanceId: m[1] ?? '', protocol: m[2] as 'tcp' | 'udp', hostIp: m[3] ?? '', hostPort: Number(m[4]), targetIp: m[5] ?? '', targetPort: Number(m[6]) };
}

/** The nft command adding one DNAT rule. */
export function publishRuleCommand(r: PublishRule): string {
  const dst = r.hostIp === '0.0.0.0' ? '' : `ip daddr ${r.hostIp} `;
  return `add rule ip ${TABLE} publish ${dst}${r.protocol} dport ${r.hostPort} dnat to ${r.targetIp}:${r.targetPort} comment "${publishComment(r)}"`;
}

/** What the table holds now, as far as isola needs to know. */
export interface TableState {
  exists: boolean;
  subnets: string[];
  own: NetworkRules[];
  /** `targetIps`: every address the rule sends to (a service's rule spreads over several). */
  publish: (PublishRule & { handle: number; targetIps: string[] })[];
}

interface NftObject {
  set?: { name: string; elem?: unknown[] };
  rule?: { chain: string; handle: number; comment?: string; expr?: unknown[] };
}

/** The addresses of a rule's `dnat to`: one address, or the values of a `numgen ... map`. */
function dnatTargets(expr: readonly unknown[] | undefined): string[] {
  for (const x of expr ?? []) {
    const addr = (x as { dnat?: { addr?: unknown } }).dnat?.addr;
    if (typeof addr === 'string') return [addr];
    const set = (addr as { map?: { data?: { set?: unknown[] } } } | undefined)?.map?.data?.set;
    if (Array.isArray(set)) return set.map((pair) => (Array.isArray(pair) ? pair[1] : undefined)).filter((ip): ip is string => typeof ip === 'string');
  }
  return [];
}

/** An element of nft's JSON as text, whatever its shape: `10.78.0.5`, `10.78.0.5 . 10.78.0.0/24`, `10.78.0.5 . isolat…` (a set with a timeout or comment wraps it in `elem`). */
export function elemKey(e: unknown): string {
  const c = (e as { concat?: unknown[] }).concat;
  if (Array.isArray(c)) return c.map(elemKey).join(' . ');
  const el = (e as { elem?: { val?: unknown } }).elem;
  if (el) return elemKey(el.val);
  return elemText(e) ?? JSON.stringify(e);
}

function elemText(e: unknown): string | null {
  if (typeof e === 'string') return e;
  const p = (e as { prefix?: { addr: string; len: number } }).prefix;
  if (p) return `${p.addr}/${p.len}`;
  const r = (e as { range?: [string, string] }).range;
  if (r) return `${r[0]}-${r[1]}`;
  return null;
}

/** Reads `nft -j list table` output (pure). */
export function parseTable(json: string): TableState {
  const doc = JSON.parse(json) as { nftables?: NftObject[] };
  const st: TableState = { exists: true, subnets: [], own: [], publish: [] };
  for (const o of doc.nftables ?? []) {
    if (o.set?.name === 'subnets') st.subnets = (o.set.elem ?? []).map(elemText).filter((x): x is string => x !== null);
    if (o.set?.name === 'own') {
      for (const e of o.set.elem ?? []) {
        const c = (e as { concat?: unknown[] }).concat;
        if (!c || typeof c[0] !== 'string') continue;
        const subnet = elemText(c[1]);
        if (subnet) st.own.push({ bridge: c[0], subnet });
      }
    }
    if (o.rule?.chain === 'publish' && o.rule.comment) {
      const p = parsePublishComment(o.rule.comment);
      if (p) st.publish.push({ ...p, handle: o.rule.handle, targetIps: dnatTargets(o.rule.expr) });
    }
  }
  return st;
}

/** Runs nft; a missing nft is a one-line error naming the package. */
export async function nft(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return await run('nft', args, input === undefined ? {} : { input });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new IsolaError('UNAVAILABLE', 'isola\'s networks need nft (nftables), which is missing', 'install Debian\'s nftables package (npm run bootstrap does)');
    }
    throw e;
  }
}

/** Applies an nft script in one transaction; what nft refused is an error naming `what` (and `hint`). */
export async function nftOk(input: string, what: string, hint = 'see `nft list table ip isola`; isola changes nothing else in the host\'s firewall'): Promise<void> {
  const r = await nft(['-f', '-'], input);
  if (r.code !== 0) throw new IsolaError('INTERNAL', `nftables refused ${what}: ${r.stderr.trim().split('\n')[0]}`, hint);
}

export async function readTable(): Promise<TableState> {
  const r = await nft(['-j', 'list', 'table', 'ip', TABLE]);
  if (r.code !== 0) return { exists: false, subnets: [], own: [], publish: [] };
  return parseTable(r.stdout);
}

/**
 * IPv4 forwarding: routing between isola's bridges and the host's other interfaces needs it.
 * Measured here: `net.ipv4.conf.<bridge>.forwarding` alone is not enough (the replies enter through
 * the host's uplink, and forwarding is decided by the interface a packet enters on), so isola turns
 * on net.ipv4.ip_forward when it is off, records that it did in MARK, and turns it off again
 * with its last network.
 */
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
export const RUN_DIR = '/run/isola';
export const FORWARD_MARK = `${RUN_DIR}/ip_forward`;

function ensureForwarding(): void {
  if (fs.readFileSync(IP_FORWARD, 'utf8').trim() === '1') return;
  fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
  fs.writeFileSync(FORWARD_MARK, `net.ipv4.ip_forward was 0; isola turned it on at ${new Date().toISOString()} for its networks' NAT and turns it off with its last network\n`);
  fs.writeFileSync(IP_FORWARD, '1\n');
}

function restoreForwarding(): void {
  if (!fs.existsSync(FORWARD_MARK)) return;
  fs.writeFileSync(IP_FORWARD, '0\n');
  fs.rmSync(FORWARD_MARK, { force: true });
}

/** The table (made whole when missing) and one network's elements; forwarding on. Idempotent. */
export async function ensureNetworkRules(n: NetworkRules, state?: TableState): Promise<void> {
  const st = state ?? await readTable();
  const cmds: string[] = [];
  if (!st.exists) cmds.push(tableScript());
  if (!st.subnets.includes(n.subnet)) cmds.push(`add element ip ${TABLE} subnets { ${n.subnet} }`);
  if (!st.own.some((o) => o.bridge === n.bridge && o.subnet === n.subnet)) cmds.push(`add element ip ${TABLE} own { "${n.bridge}" . ${n.subnet} }`);
  if (cmds.length > 0) await nftOk(cmds.join('\n'), `the rules of network ${n.bridge}`);
  ensureForwarding();
}

/**
 * Removes one network's elements; with the last isola bridge of the host gone, the whole table,
 * and forwarding goes back off if isola turned it on. Idempotent.
 */
export async function removeNetworkRules(n: NetworkRules, bridgesLeft: readonly string[]): Promise<void> {
  const st = await readTable();
  if (!st.exists) return;
  if (bridgesLeft.length === 0) {
    await nftOk(`delete table ip ${TABLE}`, 'removing isola\'s table');
    restoreForwarding();
    return;
  }
  const cmds: string[] = [];
  if (st.subnets.includes(n.subnet)) cmds.push(`delete element ip ${TABLE} subnets { ${n.subnet} }`);
  for (const o of st.own.filter((x) => x.bridge === n.bridge)) cmds.push(`delete element ip ${TABLE} own { "${o.bridge}" . ${o.subnet} }`);
  if (cmds.length > 0) await nftOk(cmds.join('\n'), `removing the rules of network ${n.bridge}`);
}

export async function addPublishRules(rules: readonly PublishRule[]): Promise<void> {
  if (rules.length > 0) await nftOk(rules.map(publishRuleCommand).join('\n'), 'a published port');
}

/** Deletes the DNAT rules of one instance (all of them: they name it). Idempotent. */
export async function deletePublishRules(instanceId: string, state?: TableState): Promise<number> {
  const st = state ?? await readTable();
  const mine = st.publish.filter((p) => p.instanceId === instanceId);
  if (mine.length > 0) await nftOk(mine.map((p) => `delete rule ip ${TABLE} publish handle ${p.handle}`).join('\n'), 'removing a published port');
  return mine.length;
}

/** A DNAT rule spread over several targets (a Compose service's published port: one per ready replica). */
export interface BalancedRule {
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  targetIps: readonly string[];
  targetPort: number;
}

/** The nft command of a balanced rule: new connections go round-robin over the targets (numgen). */
export function balancedRuleCommand(owner: string, r: BalancedRule): string {
  const dst = r.hostIp === '0.0.0.0' ? '' : `ip daddr ${r.hostIp} `;
  const first = r.targetIps[0] ?? '0.0.0.0';
  const to = r.targetIps.length === 1 ? `${first}:${r.targetPort}` : `numgen inc mod ${r.targetIps.length} map { ${r.targetIps.map((ip, i) => `${i} : ${ip}`).join(', ')} } : ${r.targetPort}`;
  // The comment has the shape of an instance's (its owner a 64-hex key), naming the first target.
  return `add rule ip ${TABLE} publish ${dst}${r.protocol} dport ${r.hostPort} dnat to ${to} comment "${publishComment({ instanceId: owner, protocol: r.protocol, hostIp: r.hostIp, hostPort: r.hostPort, targetIp: first, targetPort: r.targetPort })}"`;
}

/**
 * Replaces every DNAT rule of one owner by `rules` in ONE nft transaction: a connection sees
 * either the old targets or the new ones, never no rule. Idempotent.
 */
export async function replaceOwnedRules(owner: string, rules: readonly BalancedRule[], state: TableState): Promise<void> {
  const cmds = [
    ...state.publish.filter((p) => p.instanceId === owner).map((p) => `delete rule ip ${TABLE} publish handle ${p.handle}`),
    ...rules.filter((r) => r.targetIps.length > 0).map((r) => balancedRuleCommand(owner, r)),
  ];
  if (cmds.length > 0) await nftOk(cmds.join('\n'), 'a service\'s published port');
}
