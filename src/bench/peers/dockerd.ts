import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, type RunResult } from '../../util/exec.js';
import { removeCgroup } from '../../util/cgroup.js';

/**
 * A private dockerd (Debian's docker.io) for one benchmark or test file: its own data root, exec
 * root and socket under a short temp folder, no bridge, no iptables, no IP forwarding, its cgroups
 * under one parent of its own. Stopped (every container removed, mounts and cgroups gone) by
 * stop(). It leaves /etc/docker/key.json, /run/docker and /run/containerd on the host, as any
 * dockerd does.
 */
export interface PeerDockerd {
  /** Its temp folder (data root, exec root, socket, log, the client's config). */
  dir: string;
  socket: string;
  docker(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult>;
  stop(): Promise<void>;
}

const CLIENT = fs.existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

export interface DockerdOptions {
  /** The cgroup parent of its containers, removed by stop(). */
  cgroupParent?: string;
  /** Added to the docker client's environment (the bench turns BuildKit off). */
  clientEnv?: NodeJS.ProcessEnv;
}

export async function startDockerd(env: NodeJS.ProcessEnv, opts: DockerdOptions = {}): Promise<PeerDockerd> {
  const cgroupParent = opts.cgroupParent ?? '/isola-bench-dockerd';
  const b = fs.mkdtempSync('/tmp/ibd-');
  fs.writeFileSync(path.join(b, 'daemon.json'), '{}');
  fs.mkdirSync(path.join(b, 'client'));
  const socket = path.join(b, 'docker.sock');
  const child = spawn('dockerd', [
    '--config-file', path.join(b, 'daemon.json'), '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
    '--ip-forward=false', '--userland-proxy=false', `--cgroup-parent=${cgroupParent}`, '--data-root', path.join(b, 'data'),
    '--exec-root', path.join(b, 'exec'), '--pidfile', path.join(b, 'dockerd.pid'), '-H', `unix://${socket}`,
  ], { stdio: ['ignore', 'ignore', fs.openSync(path.join(b, 'dockerd.log'), 'a')], env });
  const docker = (args: string[], extra: NodeJS.ProcessEnv = {}) => run(CLIENT, args, { env: { ...env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(b, 'client'), ...opts.clientEnv, ...extra }, timeoutMs: 120_000 });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      for (let i = 0; i < ids.length; i += 50) await docker(['rm', '-f', ...ids.slice(i, i + 50)]);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000, undefined, { ref: false })]); // unref'd: a stopped dockerd does not keep the process 20 s
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const mounts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(b)).sort().reverse();
    for (const m of mounts) await run('umount', ['-l', m]);
    removeCgroup(cgroupParent);
    fs.rmSync(b, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await docker(['version', '--format', '{{.Server.Version}}']);
    if (r.code === 0) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = fs.readFileSync(path.join(b, 'dockerd.log'), 'utf8').slice(-1500);
      await stop();
      throw new Error(`the private dockerd did not start: ${log}`);
    }
    await sleep(300);
  }
  return { dir: b, socket, docker, stop };
}
