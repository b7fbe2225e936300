import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IsolaError } from '../../core/errors.js';
import type { Config } from '../../core/config.js';
import { which } from '../../util/which.js';
import { run } from '../../util/exec.js';
import { readJson, writeFileAtomic } from '../../util/fsx.js';

export const RUNTIMES = ['runc', 'crun', 'runsc'] as const;

export interface RuntimeVerdict {
  name: string;
  path: string | null;
  version: string | null;
  usable: boolean;
  /** Why not, when not usable: the runtime's own words from a real container run. */
  reason: string | null;
}

export type RuntimeName = (typeof RUNTIMES)[number];

/** The binary for a runtime name; ISOLA_RUNC / ISOLA_CRUN / ISOLA_RUNSC override the lookup. */
export function runtimeBinary(name: RuntimeName, config: Config): string | null {
  const override = config.bin[name];
  if (override) return fs.existsSync(override) ? override : null;
  return which(name, config.searchPath);
}

/**
 * Whether a runtime really works on this host, found by running `true` in a throwaway
 * container (crun, for one, installs fine and then refuses hybrid cgroup hosts). The verdict
 * is cached per runtime binary and host kernel, since neither changes between commands.
 */
export async function probeRuntime(name: RuntimeName, config: Config): Promise<RuntimeVerdict> {
  const bin = runtimeBinary(name, config);
  if (!bin) return { name, path: null, version: null, usable: false, reason: `${name} is not installed` };
  const st = fs.statSync(bin);
  const cacheFile = path.join(config.assets, 'probes', `runtime-${name}-${os.release()}-${st.size}-${Math.floor(st.mtimeMs)}.json`);
  if (fs.existsSync(cacheFile)) {
    try {
      return readJson<RuntimeVerdict>(cacheFile);
    } catch {
      /* probe again */
    }
  }
  const version = (await run(bin, ['--version'])).stdout.split('\n')[0]?.trim() ?? null;
  const verdict: RuntimeVerdict = { name, path: bin, version, usable: false, reason: null };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-probe-'));
  const id = `isola-probe-${process.pid}-${name}`;
  try {
    const rootfs = path.join(dir, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'true'));
    fs.chmodSync(path.join(rootfs, 'bin', 'true'), 0o755);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(probeConfig(rootfs)));
    const r = await run(bin, ['--root', path.join(dir, 'state'), 'run', '--bundle', dir, id]);
    verdict.usable = r.code === 0;
    verdict.reason = r.code === 0 ? null : (r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`).slice(0, 300);
  } catch (e) {
    verdict.reason = (e as Error).message;
  } finally {
    await run(bin, ['--root', path.join(dir, 'state'), 'delete', '--force', id]).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
  writeFileAtomic(cacheFile, JSON.stringify(verdict));
  return verdict;
}

function probeConfig(rootfs: string): object {
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/true'], env: [], cwd: '/' },
    root: { path: rootfs, readonly: true },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }], cgroupsPath: `/isola-probe-${process.pid}` },
  };
}

/** The runtime to use: the one asked for (which must work), else runc, else crun. */
export async function chooseRuntime(requested: string | undefined, config: Config): Promise<RuntimeVerdict> {
  if (requested) {
    if (!isRuntimeName(requested)) {
      throw new IsolaError('INVALID_ARGUMENT', `unknown runtime "${requested}"`, `use one of ${RUNTIMES.join(', ')}`);
    }
    const v = await probeRuntime(requested, config);
    if (!v.usable) throw new IsolaError('UNAVAILABLE', `runtime ${requested} cannot run containers here: ${v.reason}`, 'see isola host for the runtimes that work on this host');
    return v;
  }
  const tried: RuntimeVerdict[] = [];
  for (const name of ['runc', 'crun'] as const) {
    const v = await probeRuntime(name, config);
    if (v.usable) return v;
    tried.push(v);
  }
  throw new IsolaError('UNAVAILABLE', `no OCI runtime works here (${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')})`, 'install runc (npm run bootstrap does)');
}

function isRuntimeName(name: string): name is RuntimeName {
  return (RUNTIMES as readonly string[]).includes(name);
}
