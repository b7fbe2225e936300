import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IsolaError } from '../core/errors.js';

/**
 * Where the guest side lives once setup.ts has run: the kernel unpacked from Debian's package,
 * the static init/agent, and the initramfs that carries both plus the few modules the guest
 * needs. Everything is under the assets folder of the configuration, shared by every data root.
 */
export interface GuestAssets {
  /** Bumped when the initramfs layout changes, so that setup rebuilds it. */
  layout: number;
  kernelVersion: string; // e.g. 6.1.0-56-cloud-amd64
  kernelPackage: string; // the Debian package it came from, with its version
  kernel: string; // absolute path of vmlinuz
  initramfs: string; // absolute path of the shared initramfs (uncompressed cpio)
  init: string; // the static init/agent binary
  initHash: string; // sha256 of the C source and compiler flags it was built from
  modules: string[]; // load order inside the guest
  /** The kernel's unpacked folder: vmlinuz, config, and the module files under modules/. */
  kernelDir: string;
  /** Modules a whole-disk boot loads besides (`isola export`), in load order; not in the shared initramfs. */
  diskModules: string[];
  /** The host-side launcher that confines each VM's QEMU (vmm-jail.c), built like the init. */
  vmmJail: string;
  /** The host-side launcher of virtiofsd for shared folders (vfs-launch.c); absent in older setups. */
  vfsLaunch?: string;
  /**
   * The host-side relay of a container's terminal (tty-relay.c): conmon's attach socket and
   * `exec -t`'s console socket. Absent in manifests written before it existed (setup adds it).
   */
  ttyRelay?: string;
  /** The host-side process that waits for a VM's QEMU to end and runs its exit command (exit-watch.c). */
  exitWatch: string;
  /**
   * isola's own guest kernel (src/guest/kernel/isola.config, built from linux-source-6.1 by
   * kernel-build.ts) and its initramfs, which carries no modules: everything is built in.
   * Absent in manifests written before it existed (setup adds it).
   */
  isolaKernel?: {
    vmlinux: string;
    /** uname -r of the guest, e.g. 6.1.192-isola. */
    release: string;
    /** The build's cache key (fragment, linux-source version, compiler version). */
    key: string;
    /** The shared initramfs for this kernel: init and nothing to load. */
    initramfs: string;
  };
}

/** Which kernel a VM boots (ISOLA_VM_KERNEL): isola's own, or Debian's cloud kernel. */
export type GuestKernelChoice = 'isola' | 'cloud';

/** What a VM boots: kernel, shared initramfs, and the version `inspect` and `isola host` show. */
export interface GuestBoot {
  kernel: string;
  initramfs: string;
  kernelVersion: string;
}

/**
 * The kernel and initramfs for `choice`. isola's kernel is refused in one line when setup has
 * not built it (it needs linux-source-6.1): the cloud kernel is the fallback.
 */
export function guestBoot(a: GuestAssets, choice: GuestKernelChoice): GuestBoot {
  if (choice === 'cloud') return { kernel: a.kernel, initramfs: a.initramfs, kernelVersion: `${a.kernelVersion} (Debian's cloud kernel)` };
  const k = a.isolaKernel;
  if (!k || !fs.existsSync(k.vmlinux) || !fs.existsSync(k.initramfs)) {
    throw new IsolaError('UNAVAILABLE', 'isola\'s guest kernel is not built here', 'run npm run bootstrap (it builds it from linux-source-6.1), or set ISOLA_VM_KERNEL=cloud');
  }
  return { kernel: k.vmlinux, initramfs: k.initramfs, kernelVersion: `${k.release} (isola's kernel ${k.key.slice(0, 12)})` };
}

export const LAYOUT = 2;

/**
 * One folder per layout: checkouts of different isola versions share the assets folder, and
 * each keeps, and cleans, only its own layout's files.
 */
export function guestDir(assets: string): string {
  return path.join(assets, 'guest', `v${LAYOUT}`);
}

export function manifestPath(assets: string): string {
  return path.join(guestDir(assets), 'manifest.json');
}

/** The installed guest assets, or null when setup has not run (or its files went missing). */
export function readGuestAssets(assets: string): GuestAssets | null {
  try {
    const m = JSON.parse(fs.readFileSync(manifestPath(assets), 'utf8')) as GuestAssets;
    if (m.layout !== LAYOUT) return null;
    if (![m.kernel, m.initramfs, m.init, m.vmmJail, m.exitWatch].every((f) => typeof f === 'string' && fs.existsSync(f))) return null;
    // Optional parts too: a manifest naming a file that is gone (a moved or half-deleted assets
    // folder) must read as not ready, so setup rebuilds it instead of every VM failing later.
    const optional = [m.ttyRelay, m.vfsLaunch, m.isolaKernel?.vmlinux, m.isolaKernel?.initramfs];
    if (optional.some((f) => f !== undefined && !fs.existsSync(f))) return null;
    return m;
  } catch {
    return null;
  }
}

/** src/guest in the source tree, found from the compiled file's location (dist/src/guest). */
export function guestSourceDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'src', 'guest', 'init.c');
    if (fs.existsSync(candidate)) return path.dirname(candidate);
    dir = path.dirname(dir);
  }
  throw new Error('src/guest/init.c not found above ' + fileURLToPath(import.meta.url));
}
