import fs from 'node:fs';
import { run, runOk } from '../util/exec.js';
import { BRIDGE } from './names.js';
import type { NetworkSpec } from '../core/types.js';

/**
 * Creates isola's bridge if it is missing. The bridge has the gateway address and no route to
 * anywhere else: instances talk to the host and to each other, never further (no NAT).
 */
export async function ensureBridge(net: NetworkSpec): Promise<void> {
  if (net.mode !== 'bridge') return;
  if (fs.existsSync(`/sys/class/net/${net.bridge}`)) return;
  const r = await run('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
  if (r.code !== 0 && !/File exists/.test(r.stderr)) throw new Error(`creating bridge ${net.bridge}: ${r.stderr.trim()}`);
  const a = await run('ip', ['addr', 'add', `${net.gateway}/${net.prefixLength}`, 'dev', net.bridge]);
  if (a.code !== 0 && !/File exists|already assigned/.test(a.stderr)) throw new Error(`addressing bridge ${net.bridge}: ${a.stderr.trim()}`);
  await runOk('ip', ['link', 'set', net.bridge, 'up']);
}

/** Removes the bridge (used by tests and `isola system reset`); only when no port is left on it. */
export async function removeBridgeIfUnused(name = BRIDGE): Promise<boolean> {
  const dir = `/sys/class/net/${name}/brif`;
  if (!fs.existsSync(dir)) return false;
  if (fs.readdirSync(dir).length > 0) return false;
  await run('ip', ['link', 'del', name]);
  return true;
}
