import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IsolaError, invalid } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { SOURCE_LABEL } from '../image/disk-image.js';
import { which } from '../util/which.js';
import { importFlags } from './export.js';

/**
 * `run --disk FILE`: a bootable disk file run as a VM without a separate `import-vm`. The file is
 * imported as the image `disk-NAME:latest` (NAME from the file's name), once: the image records
 * the file's path, size and modification time, and the next run of the same, unchanged file
 * boots the stored image at once.
 */
export interface DiskFlags {
  disk?: string;
  firmware: string;
  diskBus: string;
  as: string;
  asGiven: boolean;
}

export function diskImageName(file: string): string {
  const base = path.basename(file).replace(/\.[^.]*$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return `disk-${base || 'vm'}:latest`;
}

/** The image to run for --disk FILE: imported now, or found from an earlier run of the same file. */
export async function imageForDisk(e: Engine, f: DiskFlags & { disk: string }, onStep: (s: string) => void): Promise<string> {
  if (f.asGiven && f.as !== 'vm') throw invalid(`--disk boots a whole disk, which only a VM can, not --as ${f.as}`, 'use --as vm (or leave --as out)');
  const file = path.resolve(f.disk);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new IsolaError('NOT_FOUND', `disk file "${f.disk}" not found`, 'give a .qcow2, .vmdk, .vdi, .raw, .img or .ova file');
  const opts = importFlags({ firmware: f.firmware, diskBus: f.diskBus });
  const source = JSON.stringify({ file, size: st.size, mtimeMs: st.mtimeMs, firmware: opts.firmware, bus: opts.bus });
  const ref = diskImageName(file);
  const store = e.images();
  try {
    if (store.resolve(ref).config.labels?.[SOURCE_LABEL] === source) return ref;
  } catch {
    /* not imported yet */
  }
  const qemuImg = which('qemu-img', e.config.searchPath);
  if (!qemuImg) throw new IsolaError('UNAVAILABLE', 'qemu-img is not installed', 'install Debian\'s qemu-utils (npm run bootstrap does)');
  const scratch = path.join(e.paths.tmp, `run-disk-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  try {
    const { importVm } = await import('../export/import-vm.js');
    await importVm(store, file, ref, { scratch, qemuImg, ...opts, source, onStep });
    return ref;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
