import { IsolaError } from '../core/errors.js';
import { nft } from './nft.js';

/**
 * Machines apart on the network: `table bridge isola-machines`, whose set `taps` holds the tap of
 * every running machine, drops frames bridged from one machine's tap straight to another's. A
 * machine still reaches the host, plain instances and the host's other networks, and another
 * machine's published ports (those go through the host: DNAT, routed, not bridged tap to tap).
 * The table is made with the first machine and deleted with the last one's tap.
 */
export const MACHINE_TABLE = 'isola-machines';

export function machineTableScript(): string {
  return `table bridge ${MACHINE_TABLE} {
  set taps {
    type ifname;
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname @taps oifname @taps drop comment "isola: containers of different machines do not reach each other"
  }
}
`;
}

/** The taps in the set now; [] when the table is not there. */
export async function machineTaps(): Promise<string[]> {
  const r = await nft(['-j', 'list', 'set', 'bridge', MACHINE_TABLE, 'taps']);
  if (r.code !== 0) return [];
  const j = JSON.parse(r.stdout) as { nftables?: { set?: { elem?: string[] } }[] };
  return j.nftables?.flatMap((o) => o.set?.elem ?? []) ?? [];
}

/** Puts a running machine's tap in the set (making the table first when needed). */
export async function fenceMachine(tap: string): Promise<void> {
  if ((await nft(['list', 'table', 'bridge', MACHINE_TABLE])).code !== 0) {
    const made = await nft(['-f', '-'], machineTableScript());
    // Another isola process may have made it meanwhile.
    if (made.code !== 0 && (await nft(['list', 'table', 'bridge', MACHINE_TABLE])).code !== 0) {
      throw new IsolaError('INTERNAL', `nftables refused the machines table: ${made.stderr.trim().split('\n')[0]}`, 'see nft list ruleset');
    }
  }
  const r = await nft(['add', 'element', 'bridge', MACHINE_TABLE, 'taps', `{ ${tap} }`]);
  if (r.code !== 0) throw new IsolaError('INTERNAL', `nftables refused machine tap ${tap}: ${r.stderr.trim().split('\n')[0]}`, 'see nft list table bridge isola-machines');
}

/** Takes a machine's tap out of the set; the table goes with the last one. Idempotent. */
export async function unfenceMachine(tap: string): Promise<void> {
  const taps = await machineTaps();
  if (taps.includes(tap)) await nft(['delete', 'element', 'bridge', MACHINE_TABLE, 'taps', `{ ${tap} }`]);
  if (taps.length > 0 && taps.every((t) => t === tap)) await nft(['delete', 'table', 'bridge', MACHINE_TABLE]);
  else if (taps.length === 0) await nft(['delete', 'table', 'bridge', MACHINE_TABLE]).catch(() => undefined);
}
