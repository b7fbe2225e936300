import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { elemKey, parseTable } from '../../src/net/nft.js';
import { PLACED_PROTO } from '../../src/net/placed-routes.js';
import { fileURLToPath } from 'node:url';
import { pathsFor, type Paths } from '../../src/core/paths.js';
import { ImageStore } from '../../src/image/store.js';
import { ensureBaseImage } from '../../src/image/base.js';
import type { InstanceSpec, Kind, ResolvedImage } from '../../src/core/types.js';
import { BRIDGE, GATEWAY, PREFIX, macFor } from '../../src/net/names.js';
import { newId } from '../../src/engine/names.js';
import { findProcesses } from '../../src/engine/engine.js';
import { removeBridgeIfUnused } from '../../src/net/bridge.js';
import { loadConfig, type Config } from '../../src/core/config.js';
import { Drivers } from '../../src/drivers/registry.js';
import { holdSuiteLock } from './suite-lock.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(REPO, 'bin', 'isola.js');

/** A fresh data root with the base image in it; `dispose()` removes it. */
export interface Fixture {
  root: string;
  /** The configuration of this environment with the fixture's data root. */
  config: Config;
  /** hostObjects before the fixture existed: what hostLeftovers does not blame on it. */
  baseline: Set<string>;
  drivers: Drivers;
  paths: Paths;
  store: ImageStore;
  base: ResolvedImage;
  dispose(): Promise<void>;
}

export async function makeFixture(): Promise<Fixture> {
  // A fixture starts instances on the host's shared bridge: one such file at a time.
  await holdSuiteLock();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-test-'));
  const baseline = new Set(hostObjects(root));
  const paths = pathsFor(root);
  for (const d of [paths.instances, paths.run, paths.cache]) fs.mkdirSync(d, { recursive: true });
  const store = new ImageStore(paths.images);
  await ensureBaseImage(store);
  const config = loadConfig({ ...process.env, ISOLA_ROOT: root });
  return {
    root,
    baseline,
    config,
    drivers: new Drivers(config),
    paths,
    store,
    base: store.resolve('base'),
    async dispose() {
      // Anything a test left mounted under the root must go before the files do.
      const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(root));
      for (const m of mounts.reverse()) await runCmd('umount', ['-l', m]);
      // A monitor's exit command (`isola _cleanup`) or a restarter of a removed instance may still
      // write the state for a moment: they end with the data root, then its files go.
      for (const pid of findProcesses(['--data-root', root])) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      fs.rmSync(root, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
      await removeBridgeIfUnused(BRIDGE);
    },
  };
}

let ipCounter = 200;

/** A complete InstanceSpec for driver-level tests, with overrides. */
export function specFor(fx: Fixture, kind: Kind, over: Partial<InstanceSpec> = {}): InstanceSpec {
  const id = newId();
  const ip = `10.77.${250 - Math.floor(ipCounter / 250)}.${(ipCounter++ % 250) + 2}`;
  return {
    id,
    name: `t-${id.slice(0, 8)}`,
    kind,
    image: fx.base,
    argv: ['sh', '-c', 'echo hello'],
    env: [...fx.base.config.env],
    workdir: '/',
    user: '',
    hostname: id.slice(0, 12),
    readOnly: false,
    network: { mode: 'bridge', bridge: BRIDGE, ip, prefixLength: PREFIX, gateway: GATEWAY, mac: macFor(id) },
    security: { privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true },
    runtime: '',
    dir: path.join(fx.paths.instances, id),
    runDir: path.join(fx.paths.run, id.slice(0, 12)),
    cleanupCommand: [],
    ...over,
  };
}

export function ensureDirs(spec: InstanceSpec): void {
  fs.mkdirSync(spec.dir, { recursive: true });
  fs.mkdirSync(spec.runDir, { recursive: true });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/isola.js) against a data root. */
export function isola(root: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  // `--` before the script, as bin/isola.js's shebang has it: Node 20 otherwise takes an
  // `--env-file` among the script's arguments for its own and exits when the file is missing.
  return runCmd(process.execPath, ['--', BIN, ...args], { env: { ...process.env, ISOLA_ROOT: root, ...opts.env }, timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** The real CLI, which must exit 0 (else the assertion names the command and its stderr): its stdout, trimmed. */
export async function isolaOk(root: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await isola(root, args, opts);
  assert.equal(r.code, 0, `isola ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

export function runCmd(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 137, stdout, stderr });
    });
    // A command that exits without reading its input closes the pipe first: not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

const MONITORS = /(conmon|qemu-system|isola-vmm-jail|exit-watch|socat|virtiofsd|vfs-launch|runc|tty-relay)/;
/** isola's own detached processes: health checkers and restarters waiting for a back-off. */
const KEEPERS = /isola\.js _(health|restart) /;

/**
 * Everything isola may leave on the whole host, not only what names known ids: every mount under
 * the data root, every isola network namespace, network device and cgroup (v1 hierarchies and
 * v2), and every monitor, VMM or forwarder process that names the data root or an isola VM.
 */
function parentCmdline(pid: string): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
    return fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export function hostObjects(root: string): string[] {
  const out: string[] = [];
  for (const l of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [source = '', m = ''] = l.split(' ');
    if (m.startsWith(root) || source.startsWith(root)) out.push(`mount ${m}`);
  }
  const netns = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [];
  for (const ns of netns) if (ns.startsWith('isola')) out.push(`netns ${ns}`);
  for (const dev of fs.readdirSync('/sys/class/net')) if (dev.startsWith('isola') && dev !== BRIDGE) out.push(`device ${dev}`);
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join('/sys/fs/cgroup', h));
    } catch {
      continue;
    }
    if (!st.isDirectory()) continue;
    for (const c of fs.readdirSync(path.join('/sys/fs/cgroup', h))) if (c.startsWith('isola')) out.push(`cgroup ${h}/${c}`);
  }
  out.push(...nftObjects(), ...placedRouteObjects());
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const named = cmd.includes(root) || /-name isola-[0-9a-f]{64}/.test(cmd);
    if (!(MONITORS.test(cmd.split(' ')[0] ?? '') || KEEPERS.test(cmd)) || !named) continue;
    // A health probe (`runc exec` started by a living instance's _health keeper) comes and goes
    // every interval; it belongs to its keeper, which is listed, so it is no object of its own.
    if (/ exec /.test(cmd) && KEEPERS.test(parentCmdline(pid))) continue;
    out.push(`process ${pid} ${cmd.slice(0, 160)}`);
  }
  return out.sort();
}

/**
 * What isola's nftables table holds for instances and user networks: each DNAT rule of a
 * published port (its comment names the instance) and each user network's elements. The table
 * itself and the default network's elements live as long as isola0, which is shared.
 */
/** Machine taps in the table that keeps machines apart (src/net/machine-filter.ts). */
function machineFenceObjects(): string[] {
  try {
    const j = JSON.parse(execFileSync('nft', ['-j', 'list', 'set', 'bridge', 'isola-machines', 'taps'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { nftables?: { set?: { elem?: string[] } }[] };
    return (j.nftables?.flatMap((o) => o.set?.elem ?? []) ?? []).map((t) => `nft machine tap ${t}`);
  } catch {
    return [];
  }
}

/**
 * What the host holds for containers of machines on user networks (src/net/placed-routes.ts):
 * routes of isola's protocol, proxy ARP entries on isola's bridges, and the elements of the sets
 * that keep those networks apart.
 */
function placedRouteObjects(): string[] {
  const out: string[] = [];
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  };
  for (const l of sh('ip', ['-4', 'route', 'show', 'proto', String(PLACED_PROTO)]).split('\n')) if (l.trim()) out.push(`route ${l.trim()}`);
  for (const l of sh('ip', ['neigh', 'show', 'proxy']).split('\n')) if (/ dev isola/.test(l)) out.push(`proxy arp ${l.trim()}`);
  for (const [family, table, set] of [['ip', 'isola', 'placed'], ['ip', 'isola', 'routed'], ['bridge', 'isola-machines', 'placedip'], ['bridge', 'isola-machines', 'placedby']] as const) {
    const text = sh('nft', ['-j', 'list', 'set', family, table, set]);
    if (!text) continue;
    for (const o of (JSON.parse(text) as { nftables?: { set?: { elem?: unknown[] } }[] }).nftables ?? []) {
      for (const e of o.set?.elem ?? []) out.push(`nft ${set} ${elemKey(e)}`);
    }
  }
  return out;
}

export function nftObjects(): string[] {
  let json: string;
  try {
    json = execFileSync('nft', ['-j', 'list', 'table', 'ip', 'isola'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  const t = parseTable(json);
  return [
    ...machineFenceObjects(),
    ...t.publish.map((p) => `nft published ${p.protocol} ${p.hostIp}:${p.hostPort} for ${p.instanceId}`),
    ...t.own.filter((o) => o.bridge !== BRIDGE).map((o) => `nft network ${o.bridge} ${o.subnet}`),
    ...t.subnets.filter((s) => s !== '10.77.0.0/16' && !t.own.some((o) => o.subnet === s)).map((s) => `nft subnet ${s}`),
  ];
}

/**
 * What isola left on the host since the fixture was made: hostObjects now, less what was there
 * before, less the objects of instances that still exist on purpose (`except`: their ids).
 */
export function hostLeftovers(fx: Fixture, except: string[] = []): string[] {
  const names = except.flatMap((id) => [id, id.slice(0, 12), id.slice(0, 9)]);
  return hostObjects(fx.root).filter((o) => !fx.baseline.has(o) && !names.some((n) => o.includes(n)));
}
