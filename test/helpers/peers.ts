import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCmd, type CliResult } from './fixture.js';

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
 * A private dockerd for one test file: its own data root, exec root and socket under a short
 * temp folder, no bridge, no iptables, no IP forwarding, its cgroups under isola-test-dockerd.
 * It leaves /etc/docker/key.json, /run/docker and /run/containerd on the host, as any dockerd does.
 */
export interface Dockerd {
  dir: string;
  docker(args: string[]): Promise<CliResult>;
  stop(): Promise<void>;
}

const DOCKER_CLIENT = fs.existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

export async function startDockerd(): Promise<Dockerd> {
  const b = fs.mkdtempSync('/tmp/idk-');
  fs.writeFileSync(path.join(b, 'daemon.json'), '{}');
  fs.mkdirSync(path.join(b, 'client'));
  const sock = path.join(b, 'docker.sock');
  const child = spawn('dockerd', [
    '--config-file', path.join(b, 'daemon.json'), '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    '--ip-forward=false', '--userland-proxy=false', '--cgroup-parent=/isola-test-dockerd', '--data-root', path.join(b, 'data'),
    '--exec-root', path.join(b, 'exec'), '--pidfile', path.join(b, 'dockerd.pid'), '-H', `unix://${sock}`,
  ], { stdio: ['ignore', 'ignore', fs.openSync(path.join(b, 'dockerd.log'), 'a')] });
  const docker = (args: string[]) => runCmd(DOCKER_CLIENT, ['-H', `unix://${sock}`, ...args], { env: { ...process.env, DOCKER_CONFIG: path.join(b, 'client') }, timeoutMs: 120_000 });
  const stop = async () => {
    if (child.exitCode === null) {
      const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await docker(['rm', '-f', ...ids]);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(b)).sort().reverse();
    for (const m of mounts) await runCmd('umount', ['-l', m]);
    for (const ctl of fs.readdirSync('/sys/fs/cgroup')) {
      rmdirTree(path.join('/sys/fs/cgroup', ctl, 'isola-test-dockerd'));
    }
    fs.rmSync(b, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await runCmd('curl', ['-s', '--unix-socket', sock, 'http://d/_ping'], { timeoutMs: 2000 });
    if (r.stdout === 'OK') break;
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = fs.existsSync(path.join(b, 'dockerd.log')) ? fs.readFileSync(path.join(b, 'dockerd.log'), 'utf8').slice(-2000) : '';
      await stop();
      throw new Error(`the private dockerd did not start: ${log}`);
    }
    await sleep(100);
  }
  return { dir: b, docker, stop };
}
