import path from 'node:path';
import { invalid } from '../core/errors.js';
import { MOUNT_PROPAGATIONS, type MountPropagation } from '../core/types.js';
import { parseBytes } from '../core/units.js';

/**
 * `-v`, `--mount` and `--tmpfs` in Docker's spelling, parsed into one typed request each. Pure:
 * nothing is looked up or made here (the engine's mounts.ts resolves host paths and volumes).
 */
export type MountRequest =
  | {
    type: 'bind';
    /** Absolute host path (a relative `./x` was resolved against the working directory). */
    source: string;
    target: string;
    readOnly: boolean;
    propagation?: MountPropagation;
    /** -v makes a missing host folder, as Docker does; --mount type=bind refuses it, as Docker does. */
    createSource: boolean;
  }
  | { type: 'volume'; /** Absent: an anonymous volume. */ source?: string; target: string; readOnly: boolean }
  | { type: 'tmpfs'; target: string; readOnly: boolean; sizeBytes?: number; mode?: number; noExec: boolean };

/** Docker's rule for volume names (names starting with a letter or digit, at least two characters). */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkVolumeName(name: string, flag: string): string {
  if (!VOLUME_NAME.test(name) || name.length > 128) {
    throw invalid(`${flag}: invalid volume name "${name}"`, 'use 2 to 128 letters, digits, _ . and -, starting with a letter or digit; a host path must start with / or ./');
  }
  return name;
}

/** The path inside the instance: absolute, cleaned, never the root itself. */
export function containerPath(p: string, flag: string): string {
  if (!p) throw invalid(`${flag}: no path inside the instance`, 'give one, for example -v data:/data');
  if (!p.startsWith('/')) throw invalid(`${flag}: the path inside the instance "${p}" is not absolute`, `use an absolute path, for example /${p.replace(/^\.?\/*/, '')}`);
  const clean = path.posix.normalize(p).replace(/\/+$/, '') || '/';
  if (clean === '/') throw invalid(`${flag}: cannot mount over the instance's root /`, 'mount below it, for example /data');
  return clean;
}

/** A host path: absolute, or relative to the working directory when it starts with . (Docker CLI 23+). */
function hostPath(p: string, cwd: string, flag: string): string {
  if (p.split('/').includes('..')) {
    throw invalid(`${flag}: the host path "${p}" climbs with ".."`, 'give the real path without ".." (isola refuses rather than guess which folder is meant)');
  }
  return path.resolve(cwd, p);
}

function isHostPath(s: string): boolean {
  return s.startsWith('/') || s === '.' || s.startsWith('./') || s === '..' || s.startsWith('../');
}

function octalMode(text: string, flag: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) throw invalid(`${flag}: invalid mode "${text}"`, 'use an octal mode such as 1777 or 755');
  return parseInt(text, 8);
}

function propagation(text: string, flag: string): MountPropagation {
  if (!(MOUNT_PROPAGATIONS as readonly string[]).includes(text)) throw invalid(`${flag}: unknown propagation "${text}"`, `use one of ${MOUNT_PROPAGATIONS.join(', ')}`);
  return text as MountPropagation;
}

/** `-v [SRC:]DST[:OPTS]`: SRC a host path (/ or ./) or a volume name; none: an anonymous volume. */
export function parseVolumeFlag(spec: string, cwd: string): MountRequest {
  const flag = `-v ${spec}`;
  const parts = spec.split(':');
  if (parts.length > 3) throw invalid(`${flag}: too many ":"`, 'use -v HOST_PATH:PATH[:ro], -v NAME:PATH[:ro] or -v PATH');
  if (parts.length === 1) return { type: 'volume', target: containerPath(spec, flag), readOnly: false };
  const [src = '', dst = '', opts = ''] = parts;
  if (!src) throw invalid(`${flag}: empty source`, 'use -v HOST_PATH:PATH or -v NAME:PATH');
  let readOnly = false;
  let prop: MountPropagation | undefined;
  for (const o of opts ? opts.split(',') : []) {
    if (o === 'ro' || o === 'readonly') readOnly = true;
    else if (o === 'rw') readOnly = false;
    else if ((MOUNT_PROPAGATIONS as readonly string[]).includes(o)) prop = o as MountPropagation;
    else if (o === 'nocopy') continue; // isola never copies the image's files into a volume: nocopy is what it always does
    else throw invalid(`${flag}: unknown option "${o}"`, `use ro, rw, nocopy or a propagation (${MOUNT_PROPAGATIONS.join(', ')}); z and Z relabel for SELinux, which isola does not use`);
  }
  const target = containerPath(dst, flag);
  if (isHostPath(src)) {
    return { type: 'bind', source: hostPath(src, cwd, flag), target, readOnly, ...(prop ? { propagation: prop } : {}), createSource: true };
  }
  if (prop) throw invalid(`${flag}: a propagation applies to host folders, not to volume "${src}"`, 'drop it, or give a host path');
  return { type: 'volume', source: checkVolumeName(src, flag), target, readOnly };
}

const MOUNT_KEYS = ['type', 'source', 'src', 'target', 'destination', 'dst', 'readonly', 'ro', 'bind-propagation', 'volume-nocopy', 'tmpfs-size', 'tmpfs-mode', 'consistency'];

function bool(v: string | undefined, flag: string, key: string): boolean {
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalid(`${flag}: ${key}=${v} is not true or false`, `use ${key}, ${key}=true or ${key}=false`);
}

/** `--mount type=bind|volume|tmpfs,source=...,target=...[,readonly][,bind-propagation=...][,tmpfs-size=...][,tmpfs-mode=...]`. */
export function parseMountFlag(spec: string, cwd: string): MountRequest {
  const flag = `--mount ${spec}`;
  const kv = new Map<string, string | undefined>();
  for (const field of spec.split(',')) {
    if (!field) continue;
    const eq = field.indexOf('=');
    const k = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? undefined : field.slice(eq + 1);
    if (!MOUNT_KEYS.includes(k)) throw invalid(`${flag}: unknown key "${k}"`, `use ${MOUNT_KEYS.filter((x) => x !== 'consistency').join(', ')}`);
    if (kv.has(k)) throw invalid(`${flag}: "${k}" is given twice`, 'give each key once');
    kv.set(k, v);
  }
  const get = (...keys: string[]) => {
    const found = keys.filter((k) => kv.has(k));
    if (found.length > 1) throw invalid(`${flag}: ${found.join(' and ')} mean the same`, `give only ${found[0]}`);
    return found[0] === undefined ? undefined : (kv.get(found[0]) ?? '');
  };
  const type = get('type') ?? 'volume';
  const source = get('source', 'src');
  const target = containerPath(get('target', 'destination', 'dst') ?? '', flag);
  const roKey = kv.has('readonly') ? 'readonly' : 'ro';
  const readOnly = kv.has(roKey) ? bool(kv.get(roKey), flag, roKey) : false;
  if (kv.has('readonly') && kv.has('ro')) throw invalid(`${flag}: readonly and ro mean the same`, 'give only readonly');
  const only = (allowed: string[], forType: string) => {
    for (const k of kv.keys()) {
      if (k.startsWith('bind-') || k.startsWith('volume-') || k.startsWith('tmpfs-')) {
        if (!allowed.includes(k)) throw invalid(`${flag}: ${k} does not apply to type=${forType}`, `drop ${k}`);
      }
    }
  };
  if (type === 'bind') {
    only(['bind-propagation'], type);
    if (!source) throw invalid(`${flag}: type=bind needs a source`, 'add source=/host/path');
    const prop = get('bind-propagation');
    return {
      type: 'bind', source: hostPath(source, cwd, flag), target, readOnly,
      ...(prop !== undefined ? { propagation: propagation(prop, flag) } : {}), createSource: false,
    };
  }
  if (type === 'volume') {
    only(['volume-nocopy'], type);
    if (kv.has('volume-nocopy')) bool(kv.get('volume-nocopy'), flag, 'volume-nocopy');
    if (source && isHostPath(source)) throw invalid(`${flag}: type=volume takes a volume name, not the path "${source}"`, 'use type=bind for a host folder');
    return { type: 'volume', ...(source ? { source: checkVolumeName(source, flag) } : {}), target, readOnly };
  }
  if (type === 'tmpfs') {
    only(['tmpfs-size', 'tmpfs-mode'], type);
    if (source) throw invalid(`${flag}: type=tmpfs takes no source`, 'drop source=');
    const size = get('tmpfs-size');
    const mode = get('tmpfs-mode');
    return {
      type: 'tmpfs', target, readOnly, noExec: false,
      ...(size !== undefined ? { sizeBytes: parseBytes(size, 'tmpfs-size') } : {}),
      ...(mode !== undefined ? { mode: octalMode(mode, flag) } : {}),
    };
  }
  throw invalid(`${flag}: unknown type "${type}"`, 'use type=bind, type=volume or type=tmpfs');
}

/** `--tmpfs PATH[:size=64m,mode=1777,ro,exec]`; without exec the tmpfs is noexec, as Docker's --tmpfs. */
export function parseTmpfsFlag(spec: string): MountRequest {
  const flag = `--tmpfs ${spec}`;
  const colon = spec.indexOf(':');
  const target = containerPath(colon < 0 ? spec : spec.slice(0, colon), flag);
  const req: MountRequest & { type: 'tmpfs' } = { type: 'tmpfs', target, readOnly: false, noExec: true };
  for (const o of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
    if (!o) continue;
    const [k = '', v] = o.split('=');
    if (k === 'size' && v) req.sizeBytes = parseBytes(v, 'tmpfs size');
    else if (k === 'mode' && v) req.mode = octalMode(v, flag);
    else if (o === 'ro') req.readOnly = true;
    else if (o === 'rw') req.readOnly = false;
    else if (o === 'exec') req.noExec = false;
    else if (o === 'noexec') req.noExec = true;
    else throw invalid(`${flag}: unknown option "${o}"`, 'use size=SIZE, mode=OCTAL, ro, rw, exec or noexec');
  }
  return req;
}

/** Two mounts at one path: Docker refuses it too ("Duplicate mount point"). */
export function checkDistinctTargets(reqs: readonly { target: string }[]): void {
  const seen = new Set<string>();
  for (const r of reqs) {
    if (seen.has(r.target)) throw invalid(`two mounts at ${r.target}`, 'mount one thing per path');
    seen.add(r.target);
  }
}
