import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, notFound } from '../core/errors.js';
import type { InstanceSpec } from '../core/types.js';
import { allocatedBytes, privateDir } from '../util/fsx.js';
import type { InstanceRepo } from '../state/instances.js';
import type { VolumeRecord, VolumeRepo } from '../state/volumes.js';
import { checkVolumeName } from './mount-flags.js';
import { newId } from './names.js';

export interface VolumeInfo extends VolumeRecord {
  mountpoint: string;
  /** Names of the instances (any state) whose spec mounts it. */
  usedBy: string[];
}

/**
 * Named and anonymous volumes: a row in the state database and a folder, `<root>/volumes/<name>/_data`
 * (`volumes/` and `<name>/` 0700, root's alone; `_data` 0755, what the instance sees). A volume
 * outlives the instances that use it; one in use by any instance, running or not, is never
 * removed (Docker's rule). Which instances use it is read from their specs, so there is no second
 * record to keep in step.
 */
export class Volumes {
  constructor(
    private readonly dir: string,
    private readonly repo: VolumeRepo,
    private readonly instances: InstanceRepo,
  ) {}

  /** Records the volume unless it exists (inside the caller's transaction); true when this made it. */
  repoEnsure(name: string, anonymous: boolean): boolean {
    return this.repo.ensure(name, anonymous);
  }

  dataDir(name: string): string {
    return path.join(this.dir, name, '_data');
  }

  /**
   * Makes the volume's folders if missing and returns `_data`. Refuses folders that are not real
   * folders (a symlink put there would send the instance's writes elsewhere).
   */
  materialize(name: string): string {
    privateDir(this.dir);
    const top = path.join(this.dir, name);
    const data = this.dataDir(name);
    fs.mkdirSync(top, { recursive: true, mode: 0o700 });
    fs.mkdirSync(data, { recursive: true, mode: 0o755 });
    for (const p of [top, data]) {
      const st = fs.lstatSync(p);
      if (!st.isDirectory()) throw new IsolaError('UNSAFE', `volume ${name}: ${p} is not a real folder (${st.isSymbolicLink() ? 'a symlink' : 'another kind of file'})`, `remove it by hand, then use the volume again`);
    }
    fs.chmodSync(top, 0o700);
    return data;
  }

  /** `volume create`: a new named volume (a random name when none is given). Refuses a name that exists. */
  create(name: string | undefined, labels: Record<string, string>): VolumeInfo {
    const n = name === undefined ? newId() : checkVolumeName(name, 'volume create');
    const made = this.repo.locked(() => {
      if (!this.repo.ensure(n, false, labels)) return false;
      this.materialize(n);
      return true;
    });
    if (!made) throw new IsolaError('ALREADY_EXISTS', `volume ${n} already exists`, 'use it as it is, or remove it first (isola volume rm)');
    return this.inspect(n);
  }

  private usage(): Map<string, string[]> {
    const used = new Map<string, string[]>();
    for (const r of this.instances.list()) {
      for (const m of r.spec.mounts ?? []) {
        if (m.type === 'volume' && m.volume) used.set(m.volume, [...(used.get(m.volume) ?? []), r.name]);
      }
    }
    return used;
  }

  list(): VolumeInfo[] {
    const used = this.usage();
    return this.repo.list().map((v) => ({ ...v, mountpoint: this.dataDir(v.name), usedBy: used.get(v.name) ?? [] }));
  }

  inspect(name: string): VolumeInfo {
    const v = this.repo.get(name);
    if (!v) throw notFound(`no such volume: ${name}`, 'list volumes with isola volume ls');
    return { ...v, mountpoint: this.dataDir(name), usedBy: this.usage().get(name) ?? [] };
  }

  sizeBytes(name: string): number {
    return allocatedBytes(this.dataDir(name));
  }

  /**
   * Removes a volume and its data, refused while any instance uses it. The check and the row's
   * removal happen under the database's write lock, and the folder is moved aside inside it, so a
   * `run` that creates the volume again at that moment gets a fresh, empty folder.
   */
  remove(name: string): void {
    const trash = this.repo.locked(() => {
      const v = this.repo.get(name);
      if (!v) throw notFound(`no such volume: ${name}`, 'list volumes with isola volume ls');
      const users = this.usage().get(name) ?? [];
      if (users.length > 0) {
        throw new IsolaError('FAILED_PRECONDITION', `volume ${name} is in use by instance ${users.join(', ')}`, `remove ${users.length > 1 ? 'them' : 'it'} first (isola rm), then the volume`);
      }
      this.repo.delete(name);
      const top = path.join(this.dir, name);
      const aside = path.join(this.dir, `.rm-${process.pid}-${name}`);
      try {
        fs.renameSync(top, aside);
        return aside;
      } catch {
        return null; // no folder (made by hand, or removed by hand)
      }
    });
    if (trash) fs.rmSync(trash, { recursive: true, force: true });
  }

  /** Removes volumes no instance uses: anonymous ones, or all with `all`. Resolves with their names. */
  prune(all: boolean): string[] {
    const used = this.usage();
    const removed: string[] = [];
    for (const v of this.repo.list()) {
      if (used.has(v.name) || (!all && !v.anonymous)) continue;
      try {
        this.remove(v.name);
        removed.push(v.name);
      } catch (e) {
        if (!(e instanceof IsolaError && (e.code === 'FAILED_PRECONDITION' || e.code === 'NOT_FOUND'))) throw e; // taken meanwhile
      }
    }
    // Folders moved aside by a remove that was cut short.
    for (const f of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      if (f.startsWith('.rm-')) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
    }
    return removed;
  }

  /** Removes the given volumes when no instance uses them any more (rm -v, run --rm, a create that failed). */
  removeIfUnused(names: string[]): void {
    for (const n of names) {
      try {
        this.remove(n);
      } catch (e) {
        if (!(e instanceof IsolaError && (e.code === 'FAILED_PRECONDITION' || e.code === 'NOT_FOUND'))) throw e;
      }
    }
  }
}

/** The anonymous volumes an instance mounts. */
export function anonymousVolumes(spec: InstanceSpec): string[] {
  return (spec.mounts ?? []).flatMap((m) => (m.type === 'volume' && m.anonymous && m.volume ? [m.volume] : []));
}
