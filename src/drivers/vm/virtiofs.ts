import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../core/config.js';
import { IsolaError } from '../../core/errors.js';
import type { InstanceSpec } from '../../core/types.js';
import { processAlive, processRef, signalProcess } from '../../util/process.js';
import { which } from '../../util/which.js';
import { IN_JAIL } from './jail.js';

/**
 * Shared folders of a VM (`-v`, `--mount type=bind|volume`): one virtiofsd per folder, QEMU 7.2's
 * C daemon, started by isola-vfs-launch (src/guest/vfs-launch.c) before QEMU and supervised with
 * the VM: recorded (pid, start time, boot) before anything waits on it, found again by the
 * instance's runtime folder in its command line when the record was cut short, and ended by
 * cleanup. The guest's init mounts each share (`mount -t virtiofs TAG TARGET`) before it starts
 * the workload. virtiofsd keeps the guest's uids, gids and modes on the host's files.
 */
export interface ShareData {
  /** The virtio-fs tag the guest mounts by (isola0, isola1, ...). */
  tag: string;
  /** The host folder (a bind's real path, or a volume's _data). */
  source: string;
  /** Where the guest mounts it. */
  guestTarget: string;
  readOnly: boolean;
  /** The vhost-user socket (host path; /run/vm/<name> in QEMU's jail). */
  socket: string;
  /** An empty folder of the instance the launcher binds the source onto, in its own mount namespace. */
  stage: string;
  pid: number | null;
  startTime: number | null;
  bootId: string | null;
}

/** The shares an instance's spec asks for; none for a spec without bind or volume mounts. */
export function planShares(spec: InstanceSpec): ShareData[] {
  const binds = (spec.mounts ?? []).flatMap((m) => (m.type === 'tmpfs' ? [] : [m]));
  return binds.map((m, i) => ({
    tag: `isola${i}`,
    source: m.source,
    guestTarget: m.target,
    readOnly: m.readOnly,
    socket: path.join(spec.runDir, `vfs${i}.sock`),
    stage: path.join(spec.runDir, `vfs${i}`),
    pid: null,
    startTime: null,
    bootId: null,
  }));
}

/** What QEMU's command line needs: the tag and the socket as QEMU sees it in its jail. */
export function sharesInJail(shares: readonly ShareData[]): { tag: string; socket: string }[] {
  return shares.map((s) => ({ tag: s.tag, socket: `${IN_JAIL.run}/${path.basename(s.socket)}` }));
}

export const DEFAULT_VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

/** The virtiofsd binary: ISOLA_VIRTIOFSD, QEMU's own, or one on PATH; null when there is none. */
export function findVirtiofsd(config: Config): string | null {
  if (config.bin.virtiofsd) return fs.existsSync(config.bin.virtiofsd) ? config.bin.virtiofsd : which(config.bin.virtiofsd, config.searchPath);
  return fs.existsSync(DEFAULT_VIRTIOFSD) ? DEFAULT_VIRTIOFSD : which('virtiofsd', config.searchPath);
}

/** Refuses, before anything is made, a VM whose shares cannot be served here. */
export function checkShares(config: Config, launcher: string | undefined, shares: readonly ShareData[]): void {
  if (shares.length === 0) return;
  if (!findVirtiofsd(config)) {
    throw new IsolaError('UNAVAILABLE', 'shared folders of a VM need virtiofsd, which is missing', `install Debian's qemu-system-common (it has ${DEFAULT_VIRTIOFSD}), or set ISOLA_VIRTIOFSD`);
  }
  if (!launcher) throw new IsolaError('UNAVAILABLE', 'the virtiofsd launcher (isola-vfs-launch) is not built', 'run npm run bootstrap once');
  for (const s of shares) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(s.source);
    } catch {
      st = undefined;
    }
    if (!st?.isDirectory()) throw new IsolaError('NOT_FOUND', `the shared folder ${s.source} does not exist or is not a folder`, 'a VM shares folders; create it, or mount the folder that holds the file');
  }
}

/** virtiofsd's own options: the staged folder, its namespace sandbox, the socket on fd 3. */
export function virtiofsdArgs(virtiofsd: string, share: ShareData): string[] {
  return [virtiofsd, '--fd=3', '-o', `source=${share.stage},sandbox=namespace,cache=auto`];
}

function argv0(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * Starts one virtiofsd per share. Each is recorded through `record` as soon as it exists; this
 * resolves when every one of them is virtiofsd (the launcher made the socket and exec'd), so
 * QEMU, started next, finds every socket listening.
 */
export async function startShares(config: Config, launcher: string, uid: number, shares: ShareData[], record: () => void): Promise<void> {
  const virtiofsd = findVirtiofsd(config);
  if (!virtiofsd) throw new IsolaError('UNAVAILABLE', 'virtiofsd is missing', 'install qemu-system-common, or set ISOLA_VIRTIOFSD');
  for (const s of shares) {
    fs.mkdirSync(s.stage, { recursive: true, mode: 0o700 });
    const errFile = `${s.stage}.err`;
    const err = fs.openSync(errFile, 'w', 0o600);
    try {
      const args = ['--socket', s.socket, '--uid', String(uid), '--source', s.source, '--stage', s.stage, ...(s.readOnly ? ['--ro'] : []), '--', ...virtiofsdArgs(virtiofsd, s)];
      const child = spawn(launcher, args, { detached: true, stdio: ['ignore', err, err] });
      child.on('error', () => undefined);
      child.unref();
      const ref = processRef(child.pid);
      s.pid = child.pid ?? null;
      s.startTime = ref?.startTime ?? null;
      s.bootId = ref?.bootId ?? null;
    } finally {
      fs.closeSync(err);
    }
    record();
  }
  for (const s of shares) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (s.pid && argv0(s.pid) === virtiofsd && fs.existsSync(s.socket)) break;
      if (!s.pid || !processAlive(s.pid)) {
        const said = readOr(`${s.stage}.err`).replace(/\s+/g, ' ').trim();
        throw new IsolaError('UNAVAILABLE', `virtiofsd could not share ${s.source}: ${said || 'it ended at once'}`, 'check the folder exists and is a folder');
      }
      if (Date.now() > deadline) throw new IsolaError('TIMEOUT', `virtiofsd for ${s.source} did not start within 10 s`, 'see the .err file in the instance\'s runtime folder');
      await sleep(5);
    }
  }
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const SHARE_PROGRAMS = /(virtiofsd|vfs-launch)/;

/**
 * Every virtiofsd (and launcher) serving this instance, whether recorded or not: those whose
 * command line names the instance's runtime folder. Its sandbox worker (a child in a pid
 * namespace of its own, same command line) is one of them.
 */
export function shareProcesses(runDir: string): number[] {
  const needle = `${path.join(runDir, 'vfs')}`;
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (SHARE_PROGRAMS.test(cmd.split('\0')[0] ?? '') && cmd.includes(needle)) out.push(Number(p));
  }
  return out;
}

/** Ends the instance's virtiofsd processes (recorded or found) and removes their sockets. Idempotent. */
export async function stopShares(runDir: string, shares: readonly ShareData[] = []): Promise<void> {
  for (const s of shares) {
    if (s.pid && s.startTime !== null && s.bootId) signalProcess({ pid: s.pid, startTime: s.startTime, bootId: s.bootId }, 'SIGKILL');
  }
  for (let i = 0; i < 50; i++) {
    const left = shareProcesses(runDir);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(20);
  }
  for (const s of shares) {
    fs.rmSync(s.socket, { force: true });
    fs.rmSync(`${s.stage}.err`, { force: true });
    try {
      fs.rmdirSync(s.stage); // empty on the host: the bind lived in the launcher's own mount namespace
    } catch {
      /* gone, or (never) not empty: left for remove */
    }
  }
}
