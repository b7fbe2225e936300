import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import type { Kind, MountPropagation, MountSpec } from '../core/types.js';
import { checkDistinctTargets, type MountRequest } from './mount-flags.js';
import { newId } from './names.js';

/**
 * From the mounts a run asks for to the mounts an instance records, in two steps so that bad
 * input is refused before anything is made: `planMounts` checks everything and makes nothing;
 * `applyPlan` then makes the missing host folders of `-v` (as Docker does) and fixes each host
 * path as its real path, symlinks resolved, so the instance records what it really mounts.
 * Volumes are made by the engine inside the instance's insert (volumes.ts).
 */
export interface MountPlan {
  mounts: MountSpec[];
  /** Volumes to make if missing, in the instance's insert. */
  volumes: { name: string; anonymous: boolean }[];
  /** Host folders `-v` asked for that do not exist yet. */
  missing: string[];
}

/** Where a VM cannot follow: it shares folders over virtiofs, with its own kernel's mount table. */
function checkForVm(r: MountRequest, kind: Kind): void {
  if (kind === 'container' || r.type === 'tmpfs') return;
  const prop = r.type === 'bind' ? r.propagation : undefined;
  if (prop && prop !== 'rprivate') {
    throw invalid(`bind propagation ${prop} means nothing for --as ${kind}: the guest has its own kernel and mount table, so host mounts cannot propagate into it`, 'drop the propagation option, or use --as container');
  }
}

/** The propagation of the host mount that holds `p`: Docker refuses shared/slave binds from a private mount. */
export function hostMountPropagation(p: string, mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): 'shared' | 'slave' | 'private' {
  let best = '';
  let fields: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const mp = (f[4] ?? '').replace(/\\040/g, ' ');
    if (!mp || !(p === mp || p.startsWith(mp.endsWith('/') ? mp : `${mp}/`) || mp === '/')) continue;
    if (mp.length >= best.length) {
      best = mp;
      fields = f.slice(6, f.indexOf('-'));
    }
  }
  if (fields.some((x) => x.startsWith('shared:'))) return 'shared';
  if (fields.some((x) => x.startsWith('master:'))) return 'slave';
  return 'private';
}

function checkPropagation(source: string, prop: MountPropagation | undefined): void {
  if (!prop || prop === 'rprivate' || prop === 'private') return;
  const host = hostMountPropagation(source);
  const ok = prop.endsWith('shared') ? host === 'shared' : host !== 'private';
  if (!ok) {
    throw new IsolaError('FAILED_PRECONDITION', `bind propagation ${prop} needs ${source} on a ${prop.endsWith('shared') ? 'shared' : 'shared or slave'} host mount, but its mount is ${host}`,
      `make it so first (mount --make-${prop.endsWith('shared') ? 'rshared' : 'rslave'} on its mount point), or drop the propagation option`);
  }
}

export function planMounts(reqs: readonly MountRequest[], kind: Kind): MountPlan {
  checkDistinctTargets(reqs);
  const plan: MountPlan = { mounts: [], volumes: [], missing: [] };
  for (const r of reqs) {
    checkForVm(r, kind);
    if (r.type === 'tmpfs') {
      plan.mounts.push({ type: 'tmpfs', target: r.target, readOnly: r.readOnly, noExec: r.noExec, ...(r.sizeBytes ? { sizeBytes: r.sizeBytes } : {}), ...(r.mode !== undefined ? { mode: r.mode } : {}) });
      continue;
    }
    if (r.type === 'volume') {
      const name = r.source ?? newId();
      plan.volumes.push({ name, anonymous: r.source === undefined });
      // The source is filled in by the engine once the volume's folder exists.
      plan.mounts.push({ type: 'volume', source: '', target: r.target, readOnly: r.readOnly, propagation: 'rprivate', volume: name, ...(r.source === undefined ? { anonymous: true } : {}) });
      continue;
    }
    if (!path.isAbsolute(r.source)) throw invalid(`the host path "${r.source}" is not absolute`, 'give an absolute path');
    let real: string | null = null;
    try {
      real = fs.realpathSync(r.source);
    } catch {
      if (fs.existsSync(path.dirname(r.source)) && isDanglingLink(r.source)) {
        throw new IsolaError('UNSAFE', `the host path ${r.source} is a symlink to something that does not exist`, 'point it at an existing folder, or give the real path');
      }
      if (!r.createSource) throw notFound(`bind source path ${r.source} does not exist`, 'create it first, or use -v, which creates a missing folder');
      if (kind === 'container') checkPropagation(nearestExisting(r.source), r.propagation);
      plan.missing.push(r.source);
    }
    if (real !== null) {
      const st = fs.statSync(real);
      if (kind !== 'container' && !st.isDirectory()) {
        throw invalid(`${r.source} is not a folder: --as ${kind} shares folders with the guest (virtiofs), not single files`, 'mount the folder that holds it, or use --as container');
      }
      if (!st.isDirectory() && !st.isFile() && !st.isSocket()) throw invalid(`${r.source} is neither a folder, a file nor a socket`, 'mount a folder or a file');
      checkPropagation(real, r.propagation);
    }
    plan.mounts.push({ type: 'bind', source: real ?? r.source, target: r.target, readOnly: r.readOnly, propagation: r.propagation ?? 'rprivate' });
  }
  return plan;
}

function nearestExisting(p: string): string {
  let q = p;
  while (!fs.existsSync(q)) q = path.dirname(q);
  return fs.realpathSync(q);
}

function isDanglingLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Makes the missing host folders (0755, as Docker makes them) and records every bind source's real path. */
export function applyPlan(plan: MountPlan): void {
  for (const dir of plan.missing) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const m of plan.mounts) {
    if (m.type !== 'bind' || !plan.missing.includes(m.source)) continue;
    m.source = fs.realpathSync(m.source);
  }
}
