import fs from 'node:fs';
import path from 'node:path';
import type { Kind } from './types.js';

/**
 * The one owner of the cache's layout: what isola derives from an image once and shares between
 * instances, where each entry lives, and which image it belongs to. Drivers build entries at the
 * paths it gives; `system prune`, `system df` and `compare` read entries back through it, so no
 * other module knows a file name under cache/.
 *
 * - rootfs/<image hex>/                      the image unpacked (a container's overlay lower layer)
 * - vm-disks/<image hex>.ext4                the image as a VM root disk
 * - whole-disks/<image hex>.qcow2            a whole-disk VM image's disk, out of its layer
 * - hybrid-disks/<image hex>-<system>.ext4   the image plus the guest system that runs it under
 *                                            runc (<system>: a digest of that system's files)
 *
 * Entries are built under a scratch name (a leading dot) and renamed into place, so a name
 * that parses is a finished entry; scratch names left by a crash are `scratch()` for prune.
 */
export type CacheEntryKind = 'rootfs' | 'vm-disk' | 'whole-disk' | 'hybrid-disk';

export interface CacheEntry {
  kind: CacheEntryKind;
  path: string;
  /** sha256:... of the image manifest it was derived from. */
  imageDigest: string;
}

export interface Stray {
  path: string;
  /** The process that was building it, when its name says so. */
  builderPid: number | null;
}

const FOLDER: Record<CacheEntryKind, string> = { rootfs: 'rootfs', 'vm-disk': 'vm-disks', 'whole-disk': 'whole-disks', 'hybrid-disk': 'hybrid-disks' };

/** What each isolation kind derives from an image (the hybrid resolves users in the unpacked tree). */
export const DERIVED_BY_KIND: Record<Kind, readonly CacheEntryKind[]> = {
  container: ['rootfs'],
  vm: ['vm-disk', 'whole-disk'],
  hybrid: ['hybrid-disk', 'rootfs'],
};

const HEX = /^[a-f0-9]{64}$/;

function hexOf(imageDigest: string): string {
  const hex = imageDigest.replace(/^sha256:/, '');
  if (!HEX.test(hex)) throw new Error(`not a sha256 image digest: ${imageDigest}`);
  return hex;
}

/** Which image an entry's file name belongs to, or null for a name that is not a finished entry. */
function parse(kind: CacheEntryKind, name: string): string | null {
  const m = kind === 'rootfs' ? /^([a-f0-9]{64})$/.exec(name)
    : kind === 'vm-disk' ? /^([a-f0-9]{64})\.ext4$/.exec(name)
      : kind === 'whole-disk' ? /^([a-f0-9]{64})\.qcow2$/.exec(name)
      : /^([a-f0-9]{64})-[a-f0-9]{16}\.ext4$/.exec(name);
  return m?.[1] ? `sha256:${m[1]}` : null;
}

export class CacheLayout {
  constructor(readonly dir: string) {}

  folder(kind: CacheEntryKind): string {
    return path.join(this.dir, FOLDER[kind]);
  }

  rootfs(imageDigest: string): string {
    return path.join(this.folder('rootfs'), hexOf(imageDigest));
  }

  vmDisk(imageDigest: string): string {
    return path.join(this.folder('vm-disk'), `${hexOf(imageDigest)}.ext4`);
  }

  wholeDisk(imageDigest: string): string {
    return path.join(this.folder('whole-disk'), `${hexOf(imageDigest)}.qcow2`);
  }

  /** `system`: a sha256 digest of the guest system's files; a new runc makes a new disk. */
  hybridDisk(imageDigest: string, system: string): string {
    return path.join(this.folder('hybrid-disk'), `${hexOf(imageDigest)}-${hexOf(system).slice(0, 16)}.ext4`);
  }

  /**
   * A scratch name beside the entries of a kind, for building one and renaming it into place.
   * It names the building process, so prune can tell a crash's leftovers from a build running now.
   */
  scratch(kind: CacheEntryKind, tag: string): string {
    return path.join(this.folder(kind), `.build-${process.pid}-${tag}`);
  }

  /** The lock that serialises building one entry. */
  lock(entry: string): string {
    return `${entry}.lock`;
  }

  /** Every finished entry. */
  entries(): CacheEntry[] {
    const out: CacheEntry[] = [];
    for (const kind of Object.keys(FOLDER) as CacheEntryKind[]) {
      for (const name of readdir(this.folder(kind))) {
        const imageDigest = parse(kind, name);
        if (imageDigest) out.push({ kind, path: path.join(this.folder(kind), name), imageDigest });
      }
    }
    return out;
  }

  /** The entries derived from one image, for some kinds of entry (all by default). */
  entriesFor(imageDigest: string, kinds: readonly CacheEntryKind[] = Object.keys(FOLDER) as CacheEntryKind[]): CacheEntry[] {
    return this.entries().filter((e) => e.imageDigest === imageDigest && kinds.includes(e.kind));
  }

  /** Every lock folder of an entry (held by a build now, or left by one that was killed). */
  locks(): string[] {
    const out: string[] = [];
    for (const kind of Object.keys(FOLDER) as CacheEntryKind[]) {
      for (const name of readdir(this.folder(kind))) if (name.endsWith('.lock') && parse(kind, name.slice(0, -5))) out.push(path.join(this.folder(kind), name));
    }
    return out;
  }

  /**
   * Whatever is in the cache and is not a finished entry or its lock: scratch builds a crash
   * left behind, and files of layouts isola no longer writes. Safe to delete when no build runs.
   */
  strays(): Stray[] {
    const out: Stray[] = [];
    const known = new Set(Object.values(FOLDER));
    for (const name of readdir(this.dir)) if (!known.has(name)) out.push({ path: path.join(this.dir, name), builderPid: null });
    for (const kind of Object.keys(FOLDER) as CacheEntryKind[]) {
      for (const name of readdir(this.folder(kind))) {
        if (parse(kind, name)) continue;
        if (name.endsWith('.lock') && parse(kind, name.slice(0, -5))) continue;
        const pid = /^\.build-(\d+)-/.exec(name)?.[1];
        out.push({ path: path.join(this.folder(kind), name), builderPid: pid ? Number(pid) : null });
      }
    }
    return out;
  }
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
