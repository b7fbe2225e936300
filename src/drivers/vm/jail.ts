import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { EXTRA_AGENT_PORTS, type LaunchFiles } from './launch.js';

/**
 * How a VM's QEMU is confined (src/guest/vmm-jail.c does it, Firecracker's jailer is the
 * model): its own unprivileged uid and gid, no capabilities, no-new-privileges, QEMU's strict
 * seccomp sandbox, its own mount, network, IPC, UTS and cgroup namespaces, a root holding only
 * /usr (read-only), three device nodes and the instance's own files, and a cgroup with the
 * instance's limits. A guest that escapes QEMU reaches none of the host's files, devices,
 * network or other VMs (each VM has its own uid).
 *
 * Inside the jail every instance sees the same paths; these are they.
 */
export const IN_JAIL = {
  kernel: '/vm/vmlinuz',
  initrd: '/vm/initrd.cpio',
  baseDisk: '/vm/base.img',
  config: '/vm/config',
  state: '/vm/state',
  run: '/run/vm',
} as const;

/** The files QEMU writes, under a folder of the instance (`state`) and its runtime folder (`run`). */
export function launchFiles(state: string, run: string): LaunchFiles {
  return {
    console: path.join(state, 'console.log'),
    log: path.join(state, 'workload.log'),
    status: path.join(state, 'status'),
    pidfile: path.join(run, 'qemu.pid'),
    qmp: path.join(run, 'qmp.sock'),
    agent: path.join(run, 'agent.sock'),
    agents: Array.from({ length: EXTRA_AGENT_PORTS }, (_, i) => path.join(run, `agent${i + 1}.sock`)),
    ctl: path.join(run, 'ctl.sock'),
    tty: path.join(run, 'tty.sock'),
  };
}

/**
 * Each VM's QEMU runs as its own uid and gid, in a range no account uses (2,100,000,000 plus a
 * number from the instance id, one of a million; two VMs sharing one is possible, unlikely and
 * only loses the separation between those two). No /etc/passwd entry is needed.
 */
export const VMM_ID_BASE = 2_100_000_000;
export function vmmId(instanceId: string): number {
  return VMM_ID_BASE + (createHash('sha256').update(instanceId).digest().readUInt32BE(0) % 1_000_000);
}

/** The cgroup of one VM's QEMU: the guest's RAM plus what QEMU itself needs (TCG's translation cache). */
export const vmmCgroupPath = (instanceId: string): string => `/isola-vmm-${instanceId}`;
export const VMM_MEMORY_MARGIN = 256 * 1024 * 1024;
export const VMM_PIDS = 256;

/** Gives the VMM's uid its own folders (0700) and files (read-only ones 0400). */
export function handOver(uid: number, dirs: string[], files: { path: string; mode: number }[]): void {
  for (const d of dirs) {
    fs.mkdirSync(d, { recursive: true });
    fs.chownSync(d, uid, uid);
    fs.chmodSync(d, 0o700);
  }
  for (const f of files) {
    fs.chownSync(f.path, uid, uid);
    fs.chmodSync(f.path, f.mode);
  }
}

export interface JailPlan {
  jail: string; // the isola-vmm-jail binary
  root: string; // an empty folder to mount the jail's tmpfs root on (inside its mount namespace)
  uid: number;
  /** The VM's taps, handed to QEMU as fd 3, 4, ... in this order. */
  taps: string[];
  kvm: boolean;
  cgroups: string[];
  /** Absent for a whole-disk VM: its firmware boots the disk's own. */
  kernel: string | null;
  initrd: string | null;
  /** A whole-disk VM's config by fw_cfg: all of it for isola's init, the address for its own OS. */
  config?: string | null;
  baseDisk: string;
  state: string;
  run: string;
  qemu: string;
}

/** The argv that starts QEMU in its jail: the jail's options, then QEMU's own argv. */
export function jailArgv(p: JailPlan, qemuArgs: string[]): string[] {
  return [
    p.jail,
    '--uid', String(p.uid), '--gid', String(p.uid), '--root', p.root,
    ...p.taps.flatMap((t) => ['--tap', t]),
    ...(p.kvm ? ['--kvm'] : []),
    ...p.cgroups.flatMap((c) => ['--cgroup', c]),
    ...(p.kernel ? ['--ro', `${p.kernel}:${IN_JAIL.kernel}`] : []),
    ...(p.initrd ? ['--ro', `${p.initrd}:${IN_JAIL.initrd}`] : []),
    ...(p.config ? ['--ro', `${p.config}:${IN_JAIL.config}`] : []),
    '--ro', `${p.baseDisk}:${IN_JAIL.baseDisk}`,
    '--dir', `${p.state}:${IN_JAIL.state}`,
    '--dir', `${p.run}:${IN_JAIL.run}`,
    '--', p.qemu, ...qemuArgs,
  ];
}
