import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { invalid, notFound } from '../core/errors.js';
import type { DeviceMapping, Kind, Ulimit } from '../core/types.js';
import { parseBytes } from '../core/units.js';

/**
 * The lifecycle flags of `run` and `create` (docs/LIFECYCLE.md), parsed into the request's
 * types. Each bad value is one line naming the flag and the fix (exit 125), before anything is made.
 */

/** Docker's --env-file: KEY=VALUE lines (value verbatim), KEY alone passes isola's own value, # comments. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const key = line.split('=')[0] ?? '';
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) throw invalid(`${file}:${i + 1}: invalid variable name "${key}"`, 'write KEY=VALUE, one per line');
    out.push(line);
  });
  return out;
}

export function readEnvFiles(files: string[]): string[] {
  return files.flatMap((f) => {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw notFound(`cannot read --env-file ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give an existing file of KEY=VALUE lines');
    }
    return parseEnvFile(text, f);
  });
}

/** --label KEY=VALUE (or KEY, with an empty value). */
export function parseLabels(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of items) {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    if (key.trim() === '') throw invalid(`invalid --label "${l}"`, 'use --label KEY=VALUE');
    out[key] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

/** The limits --ulimit takes, by Docker's names (go-units). */
export const ULIMIT_NAMES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack', 'as'];

/** --ulimit NAME=SOFT[:HARD] (-1 is unlimited). */
export function parseUlimit(text: string): Ulimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(text.trim());
  if (!m) throw invalid(`invalid --ulimit "${text}"`, 'use NAME=SOFT[:HARD], e.g. --ulimit nofile=1024:2048');
  const name = m[1] ?? '';
  if (!ULIMIT_NAMES.includes(name)) throw invalid(`unknown ulimit "${name}" in --ulimit ${text}`, `use one of ${ULIMIT_NAMES.join(', ')}`);
  const soft = Number(m[2]);
  const hard = m[3] !== undefined ? Number(m[3]) : soft;
  for (const v of [soft, hard]) {
    if (v < -1 || !Number.isSafeInteger(v)) throw invalid(`invalid value in --ulimit ${text}`, 'use a whole number, or -1 for unlimited');
  }
  const inf = (v: number) => (v < 0 ? Infinity : v);
  if (inf(soft) > inf(hard)) throw invalid(`--ulimit ${text}: the soft limit ${soft} is above the hard limit ${hard}`, 'give a soft limit no higher than the hard one');
  return { name, soft, hard };
}

/** --device HOST[:CONTAINER][:PERMISSIONS] (containers only): the host's device node, read now. */
export function parseDevice(text: string, kind: Kind): DeviceMapping {
  if (kind !== 'container') {
    throw invalid(`--device is not available with --as ${kind}: the workload runs under its own kernel in a VM, which cannot reach the host's devices (isola passes none through)`, 'drop --device, or use --as container');
  }
  const parts = text.split(':');
  const hostPath = parts[0] ?? '';
  let containerPath = hostPath;
  let permissions = 'rwm';
  if (parts.length === 2) {
    if (/^[rwm]+$/.test(parts[1] ?? '')) permissions = parts[1] ?? 'rwm';
    else containerPath = parts[1] ?? hostPath;
  } else if (parts.length === 3) {
    containerPath = parts[1] ?? hostPath;
    permissions = parts[2] ?? '';
  } else if (parts.length > 3) throw invalid(`invalid --device "${text}"`, 'use HOST[:CONTAINER][:rwm], e.g. --device /dev/fuse');
  if (!path.isAbsolute(hostPath) || !path.isAbsolute(containerPath)) throw invalid(`invalid --device "${text}": paths must be absolute`, 'e.g. --device /dev/fuse:/dev/fuse:rwm');
  if (!/^[rwm]{1,3}$/.test(permissions) || new Set(permissions).size !== permissions.length) throw invalid(`invalid --device permissions "${permissions}"`, 'use a combination of r, w and m');
  let st: fs.Stats;
  try {
    st = fs.statSync(hostPath);
  } catch {
    throw notFound(`--device ${hostPath}: no such device on this host`, 'give an existing device node, e.g. /dev/fuse');
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalid(`--device ${hostPath} is not a device node`, 'give a character or block device under /dev');
  const rdev = st.rdev;
  return {
    hostPath, containerPath, permissions, type: st.isCharacterDevice() ? 'c' : 'b',
    major: Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn),
    minor: Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn),
    fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
  };
}

/** A signal as --stop-signal and STOPSIGNAL take it: a name (with or without SIG) or a number; normalised to SIGNAME. */
export function parseSignal(text: string, flag = '--stop-signal'): string {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > 64) throw invalid(`invalid ${flag} "${text}"`, 'use a signal name such as SIGTERM, or a number from 1 to 64');
    return String(n);
  }
  const name = t.startsWith('SIG') ? t : `SIG${t}`;
  if (!(name in os.constants.signals)) throw invalid(`unknown signal "${text}" for ${flag}`, 'use a name such as SIGTERM, SIGINT, SIGQUIT or SIGUSR1');
  return name;
}

export function parseStopTimeout(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw invalid(`invalid --stop-timeout "${text}"`, 'use a whole number of seconds, e.g. --stop-timeout 30');
  return Number(text);
}

/** --log-opt max-size=SIZE (and max-file=1, the one file isola keeps). */
export function parseLogOpts(items: string[]): { logMaxBytes?: number } {
  let logMaxBytes: number | undefined;
  for (const o of items) {
    const [k, v = ''] = o.split(/=(.*)/s);
    if (k === 'max-size') logMaxBytes = parseBytes(v, '--log-opt max-size');
    else if (k === 'max-file') {
      if (v !== '1') throw invalid(`--log-opt max-file=${v} is not supported: isola keeps one log file, started again empty when it reaches max-size`, 'drop max-file, or use max-file=1');
    } else throw invalid(`unknown --log-opt "${o}"`, 'isola takes --log-opt max-size=SIZE (and max-file=1)');
  }
  return logMaxBytes ? { logMaxBytes } : {};
}
