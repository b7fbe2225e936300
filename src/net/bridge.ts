import fs from 'node:fs';
import path from 'node:path';
import { run } from '../util/exec.js';
import { withLock } from '../util/lock.js';
import { IsolaError } from '../core/errors.js';
import { BRIDGE, GATEWAY, PREFIX } from './names.js';
import { cidrText, subnetOf } from './ipam.js';
import { RUN_DIR, ensureNetworkRules, readTable, removeNetworkRules } from './nft.js';

/** One of isola's bridges: the default `isola0` or a user network's `isolabr-…`. */
export interface BridgeSetup {
  bridge: string;
  gateway: string;
  prefixLength: number;
}

/**
 * The host-wide lock for isola's bridges and nftables table: every data root shares them, so
 * making or removing a bridge, its rules and published ports is one process at a time.
 */
export const NET_LOCK = path.join(RUN_DIR, 'net.lock');

export function withNetLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
  return withLock(NET_LOCK, fn, { timeoutMs: 60_000 });
}

/** Every isola bridge on the host now (of every data root). */
export function isolaBridges(): string[] {
  return fs.readdirSync('/sys/class/net').filter((d) => (d === BRIDGE || d.startsWith('isolabr-')) && fs.existsSync(`/sys/class/net/${d}/bridge`));
}

function writeSysctl(file: string, value: string): void {
  try {
    fs.writeFileSync(file, `${value}\n`);
  } catch (e) {
    throw new IsolaError('UNAVAILABLE', `cannot write ${file}: ${(e as Error).message}`, 'isola needs root and a writable /proc/sys');
  }
}

/** Bridges whose rules this process has checked: a second look in the same command is not needed. */
const checked = new Set<string>();

/**
 * Creates the bridge if it is missing (address, up, route_localnet for published ports reached
 * through the host's loopback), and makes sure isola's table holds its rules. Idempotent; a
 * bridge checked once by this process is not checked again.
 */
export async function ensureBridge(net: BridgeSetup | { mode: 'none' }): Promise<void> {
  if (!('bridge' in net)) return;
  if (checked.has(net.bridge) && fs.existsSync(`/sys/class/net/${net.bridge}`)) return;
  await withNetLock(() => ensureBridgeLocked(net));
}

/** ensureBridge for a caller that holds the network lock already. */
export async function ensureBridgeLocked(net: BridgeSetup): Promise<void> {
  if (!fs.existsSync(`/sys/class/net/${net.bridge}`)) {
    const r = await run('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
    if (r.code !== 0 && !/File exists/.test(r.stderr)) throw new IsolaError('UNAVAILABLE', `cannot create bridge ${net.bridge}: ${r.stderr.trim()}`, 'isola needs root and the bridge module');
    const a = await run('ip', ['addr', 'add', `${net.gateway}/${net.prefixLength}`, 'dev', net.bridge]);
    if (a.code !== 0 && !/File exists|already assigned/.test(a.stderr)) {
      await run('ip', ['link', 'del', net.bridge]);
      throw new IsolaError('UNAVAILABLE', `cannot address bridge ${net.bridge}: ${a.stderr.trim()}`, 'check nothing else uses that address');
    }
    const up = await run('ip', ['link', 'set', net.bridge, 'up']);
    if (up.code !== 0) throw new IsolaError('UNAVAILABLE', `cannot bring bridge ${net.bridge} up: ${up.stderr.trim()}`, 'isola needs root');
  }
  writeSysctl(`/proc/sys/net/ipv4/conf/${net.bridge}/route_localnet`, '1');
  await ensureNetworkRules({ bridge: net.bridge, subnet: cidrText(subnetOf(net.gateway, net.prefixLength)) }, await readTable());
  checked.add(net.bridge);
}

/**
 * Removes a bridge and its rules when no port is left on it (with force, whatever is on it: its
 * network is being removed); the table goes with the host's last isola bridge. Resolves whether
 * the bridge is gone.
 */
export function removeBridge(net: BridgeSetup, opts: { force?: boolean } = {}): Promise<boolean> {
  return withNetLock(() => removeBridgeLocked(net, opts));
}

/** removeBridge for a caller that holds the network lock already. */
export async function removeBridgeLocked(net: BridgeSetup, opts: { force?: boolean } = {}): Promise<boolean> {
  const dir = `/sys/class/net/${net.bridge}/brif`;
  if (fs.existsSync(dir)) {
    if (!opts.force && fs.readdirSync(dir).length > 0) return false;
    await run('ip', ['link', 'del', net.bridge]);
  }
  checked.delete(net.bridge);
  await removeNetworkRules({ bridge: net.bridge, subnet: cidrText(subnetOf(net.gateway, net.prefixLength)) }, isolaBridges());
  return true;
}

/** Removes the default bridge (used by tests and `isola system prune`); only when no port is left on it. */
export async function removeBridgeIfUnused(name = BRIDGE): Promise<boolean> {
  if (name !== BRIDGE) throw new Error(`removeBridgeIfUnused: ${name} is not the default bridge`);
  const existed = fs.existsSync(`/sys/class/net/${name}`);
  // Also when the bridge is gone already: its rules (and the table, when it was the last) go too.
  const gone = await removeBridge({ bridge: BRIDGE, gateway: GATEWAY, prefixLength: PREFIX });
  return existed && gone;
}
