import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { ResolvedImage } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import { unpackImage, type UnpackLimits } from '../../image/unpack.js';
import { run } from '../../util/exec.js';
import { which } from '../../util/which.js';
import { buildExt4Once } from '../vm/disk.js';
import type { CacheLayout } from '../../core/cache-layout.js';
import type { Config } from '../../core/config.js';
import { runtimeBinary } from '../container/runtime.js';
import { GUEST } from './persist.js';
import { START_SCRIPT } from './launch.js';

/** busybox applets the start script, exec and the security profile use in the guest. */
const APPLETS = ['sh', 'mount', 'mkdir', 'hostname', 'cat', 'grep', 'sed', 'sleep', 'ls', 'uname', 'readlink', 'head', 'kill', 'echo', 'printf', 'ps', 'stty'];

/** The OCI runtimes a guest can run. */
export type GuestRuntime = 'runc' | 'crun';

/**
 * The hybrid guest's runtimes, the default first. crun is the default: inside the emulated guest
 * (TCG) it takes about 0.3 s from its exec to the workload against runc's 0.7 s (runc starts a Go
 * runtime twice, `runc init` re-executing a copy of its 9 MiB binary). crun 1.8.1 neither copies
 * a terminal's size to the container's nor follows its changes; the start script does both
 * (launch.ts). crun's refusal of this host's hybrid cgroups does not apply in the guest (cgroup
 * v2 alone). `--runtime runc` asks for runc.
 */
export const GUEST_RUNTIMES: readonly GuestRuntime[] = ['crun', 'runc'];

export interface GuestSystem {
  /** Which OCI runtime `runc` is. */
  runtime: GuestRuntime;
  /** The runtime's binary on the host, put at the guest's runtime path (crun or runc alike). */
  runc: string;
  busybox: string;
  /** runc's shared libraries (ldd), copied to the same paths in the guest. */
  libs: string[];
  /** The host's static tini, for --init; null when Debian's tini package is not installed. */
  tini: string | null;
}

/** Copies a host file into a guest tree at `dest` (its folders made), with `mode`. */
export function putFile(tree: string, src: string, dest: string, mode = 0o755): void {
  const to = path.join(tree, dest);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(src, to);
  fs.chmodSync(to, mode);
}

/**
 * What runs runc in a guest, into its tree: busybox with the applets the guest's scripts use,
 * runc, the libraries given (at their host paths), and tini when the host has it. The hybrid's
 * root disk and a machine's disk both start so.
 */
export function putRuncTools(tree: string, sys: GuestSystem, o: { applets: readonly string[]; libs: Iterable<string>; runcAt: string; tiniAt: string }): void {
  putFile(tree, sys.busybox, '/bin/busybox');
  for (const a of o.applets) fs.symlinkSync('busybox', path.join(tree, 'bin', a));
  putFile(tree, sys.runc, o.runcAt);
  for (const lib of o.libs) putFile(tree, lib, lib);
  if (sys.tini) putFile(tree, sys.tini, o.tiniAt);
}

/** The host programs that make up the guest system with `runtime` as its OCI runtime, or why they cannot. */
export async function guestSystem(config: Config, runtime: GuestRuntime = 'runc'): Promise<GuestSystem> {
  const name = runtime;
  const runc = runtimeBinary(name, config);
  if (!runc) throw new IsolaError('UNAVAILABLE', `${name} is not installed: the guest runs the container with the host's ${name}`, `install Debian's ${name} package (npm run bootstrap installs runc)`);
  const busybox = which('busybox', config.searchPath) ?? which('/bin/busybox', []);
  if (!busybox) throw new IsolaError('UNAVAILABLE', 'busybox is not installed: the hybrid guest\'s shell is the host\'s static busybox', 'install Debian\'s busybox-static package');
  const r = await run('ldd', [runc]);
  const libs: string[] = [];
  for (const l of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(l) ?? /^\s*(\/\S+)\s+\(/.exec(l);
    if (m?.[1]) libs.push(m[1]);
  }
  return { runtime: name, runc, busybox, libs, tini: which('tini-static', config.searchPath) };
}

/** The guest system's identity: a new runc, busybox or start script makes a new disk. */
export function systemDigest(sys: GuestSystem): string {
  const h = createHash('sha256');
  h.update(START_SCRIPT);
  h.update(APPLETS.join(' '));
  for (const f of [sys.runc, sys.busybox, ...sys.libs, ...(sys.tini ? [sys.tini] : [])]) {
    const st = fs.statSync(f);
    h.update(`${f}:${st.size}:${Math.floor(st.mtimeMs)}`);
  }
  return `sha256:${h.digest('hex')}`;
}

/**
 * The guest's root disk: busybox, runc and its libraries, the start script, and the image's
 * layers unpacked as the bundle's rootfs. Built once per image and guest system (ext4 by
 * mkfs.ext4 -d, no loop mount); the VM driver boots it as the instance's base disk.
 */
export function ensureHybridDisk(image: ResolvedImage, cache: CacheLayout, sys: GuestSystem, limits: UnpackLimits = {}): Promise<string> {
  const disk = cache.hybridDisk(image.digest, systemDigest(sys));
  return buildExt4Once(cache, 'hybrid-disk', disk, 'isola-hybrid', `the hybrid root disk of ${image.ref}`, async (tree) => {
    await unpackImage(image, path.join(tree, GUEST.rootfs), limits);
    putRuncTools(tree, sys, { applets: APPLETS, libs: sys.libs, runcAt: GUEST.runc, tiniAt: GUEST.tini });
    fs.writeFileSync(path.join(tree, GUEST.start), START_SCRIPT, { mode: 0o755 });
    for (const d of ['proc', 'sys', 'dev', 'run', 'tmp']) fs.mkdirSync(path.join(tree, d), { recursive: true });
  });
}
