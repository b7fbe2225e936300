import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pathsFor, type Paths } from '../../src/core/paths.js';
import { ImageStore } from '../../src/image/store.js';
import { ensureBaseImage } from '../../src/image/base.js';
import type { InstanceSpec, Kind, ResolvedImage } from '../../src/core/types.js';
import { BRIDGE, GATEWAY, PREFIX, macFor } from '../../src/net/names.js';
import { newId } from '../../src/engine/names.js';
import { removeBridgeIfUnused } from '../../src/net/bridge.js';
import { loadConfig, type Config } from '../../src/core/config.js';
import { Drivers } from '../../src/drivers/registry.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(REPO, 'bin', 'isola.js');

/** A fresh data root with the base image in it; `dispose()` removes it. */
export interface Fixture {
  root: string;
  /** The configuration of this environment with the fixture's data root. */
  config: Config;
  drivers: Drivers;
  paths: Paths;
  store: ImageStore;
  base: ResolvedImage;
  dispose(): Promise<void>;
}

export async function makeFixture(): Promise<Fixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-test-'));
  const paths = pathsFor(root);
  for (const d of [paths.instances, paths.run, paths.cache]) fs.mkdirSync(d, { recursive: true });
  const store = new ImageStore(paths.images);
  await ensureBaseImage(store);
  const config = loadConfig({ ...process.env, ISOLA_ROOT: root });
  return {
    root,
    config,
    drivers: new Drivers(config),
    paths,
    store,
    base: store.resolve('base'),
    async dispose() {
      // Anything a test left mounted under the root must go before the files do.
      const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(root));
      for (const m of mounts.reverse()) await runCmd('umount', ['-l', m]);
      fs.rmSync(root, { recursive: true, force: true });
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
  return runCmd(process.execPath, [BIN, ...args], { env: { ...process.env, ISOLA_ROOT: root, ...opts.env }, timeoutMs: opts.timeoutMs ?? 120_000 });
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
    child.stdin.end(opts.input ?? '');
  });
}

/** Host objects named after these instances (devices, namespaces, cgroups) or mounted under root: leaks. */
export function hostLeftovers(root: string, ids: string[] = []): string[] {
  const out: string[] = [];
  const short = ids.map((id) => id.slice(0, 9));
  for (const dev of fs.readdirSync('/sys/class/net')) if (dev.startsWith('isola') && short.some((s) => dev.endsWith(s))) out.push(`device ${dev}`);
  const netns = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [];
  for (const ns of netns) if (ns.startsWith('isola') && ids.some((id) => ns === `isola-${id.slice(0, 12)}`)) out.push(`netns ${ns}`);
  for (const l of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const m = l.split(' ')[1] ?? '';
    if (m.startsWith(root)) out.push(`mount ${m}`);
  }
  for (const id of ids) {
    for (const ctl of ['memory', 'pids', 'cpu', 'unified']) {
      if (fs.existsSync(`/sys/fs/cgroup/${ctl}/isola-${id}`)) out.push(`cgroup ${ctl}/isola-${id}`);
    }
  }
  return out;
}
