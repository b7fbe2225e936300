import fs from 'node:fs';
import path from 'node:path';
import { resolveEntry } from '../../image/root-path.js';

/**
 * An image's own kernel, as Debian and Ubuntu install one: /boot/vmlinuz-VERSION with its
 * /boot/initrd.img-VERSION, and an init (/sbin/init) to hand over to. The newest version wins
 * when several are installed, as update-grub orders them.
 */
export interface OwnKernel {
  kernel: string;
  initrd: string;
  version: string;
}

/** Compares kernel versions the way `sort -V` does for their usual shape (6.1.0-28-amd64). */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

/** A path inside the unpacked tree that is a regular file (links are not followed out of the tree). */
function fileIn(tree: string, rel: string): string | null {
  const p = path.join(tree, rel);
  try {
    return fs.lstatSync(p).isFile() ? p : null;
  } catch {
    return null;
  }
}

/**
 * Whether the tree has an init: /sbin/init, often a link (to systemd) through linked folders
 * (/sbin to usr/sbin), followed as the guest would see it, never out of the tree.
 */
function hasInit(tree: string): boolean {
  const root = fs.realpathSync(tree);
  let rel = 'sbin/init';
  for (let hops = 0; hops < 8; hops++) {
    let full: string;
    try {
      const e = resolveEntry(root, rel, { create: false });
      if (!e) return false;
      full = e.full;
    } catch {
      return false;
    }
    const st = fs.lstatSync(full, { throwIfNoEntry: false });
    if (!st) return false;
    if (st.isFile()) return true;
    if (!st.isSymbolicLink()) return false;
    const target = fs.readlinkSync(full);
    rel = target.startsWith('/') ? target : path.posix.join(path.relative(root, path.dirname(full)), target);
  }
  return false;
}

export function findOwnKernel(tree: string): OwnKernel | null {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(tree, 'boot'));
  } catch {
    return null;
  }
  const versions = names.filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length)).sort(compareKernelVersions).reverse();
  if (!hasInit(tree)) return null;
  for (const v of versions) {
    const kernel = fileIn(tree, `/boot/vmlinuz-${v}`);
    const initrd = fileIn(tree, `/boot/initrd.img-${v}`);
    if (kernel && initrd) return { kernel, initrd, version: v };
  }
  return null;
}
