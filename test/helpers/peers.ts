import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCmd, type CliResult } from './fixture.js';
import { startDockerd as startPeerDockerd, type PeerDockerd } from '../../src/bench/peers/dockerd.js';

/** Runs a peer command and fails with its own words when it does not exit 0. */
export async function must(p: Promise<CliResult>, what: string): Promise<CliResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}

/**
 * Podman with private storage and configuration, so the host's podman is untouched: vfs
 * storage in a temp folder, cgroupfs, no network namespace set up by default (a default
 * network would add firewall chains and turn on ip_forward on the host).
 */
export interface Podman {
  dir: string;
  run(args: string[], input?: string): Promise<CliResult>;
  dispose(): Promise<void>;
}

export async function startPodman(): Promise<Podman> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-podman-'));
  for (const d of ['networks', 'tmp', 'root', 'runroot']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(path.join(dir, 'containers.conf'), [
    '[containers]', 'default_ulimits=["nofile=20000:20000","nproc=4096:4096"]', 'netns="none"',
    '[engine]', 'cgroup_manager="cgroupfs"', 'events_logger="file"', 'runtime="runc"',
    '[network]', `network_config_dir="${path.join(dir, 'networks')}"`, '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'storage.conf'), ['[storage]', 'driver="vfs"', `graphroot="${path.join(dir, 'root')}"`, `runroot="${path.join(dir, 'runroot')}"`, ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'auth.json'), '{}');
  const env = { ...process.env, CONTAINERS_CONF: path.join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'), REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') };
  const run = (args: string[], input?: string) => runCmd('podman', ['--tmpdir', path.join(dir, 'tmp'), ...args], { env, timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
  return {
    dir, run,
    async dispose() {
      await run(['system', 'reset', '-f']);
      for (const ctl of fs.readdirSync('/sys/fs/cgroup')) {
        const base = path.join('/sys/fs/cgroup', ctl);
        let entries: string[];
        try {
          entries = fs.readdirSync(base);
        } catch {
          continue;
        }
        for (const e of entries) if (e.startsWith('libpod_parent')) rmdirTree(path.join(base, e));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Removes an empty cgroup and its empty children, deepest first (cgroups go by rmdir only). */
export function rmdirTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) rmdirTree(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    /* still in use, or not removable: left for the leak check to name */
  }
}

/**
 * A private dockerd for one test file (the bench's, src/bench/peers/dockerd.ts), its cgroups
 * under isola-test-dockerd.
 */
export type Dockerd = PeerDockerd;

export function startDockerd(): Promise<Dockerd> {
  return startPeerDockerd(process.env, { cgroupParent: '/isola-test-dockerd' });
}
