import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { IsolaError } from '../core/errors.js';
import { run } from '../util/exec.js';

/**
 * isola's own guest kernel: Debian's linux-source-6.1 configured with `make tinyconfig`, then
 * the fragment src/guest/kernel/isola.config (scripts/kconfig/merge_config.sh), then
 * `make olddefconfig`, built as an uncompressed vmlinux that QEMU boots through its PVH entry.
 * The patches in src/guest/kernel/patches (applied in name order with `patch -p1` before
 * configuring) add what the guest needs and the source lacks; each says why at its top.
 * Everything the guest needs is built in, so its initramfs carries no modules.
 *
 * The result is cached outside the clone, under the assets folder, keyed by a hash of the
 * fragment, the patches, the linux-source package's version and the compiler's version: an unchanged key
 * never rebuilds. The compile runs under `nice -n 19`, so it takes only idle CPU.
 */
export const SOURCE_PACKAGE = 'linux-source-6.1';
export const SOURCE_TARBALL = '/usr/src/linux-source-6.1.tar.xz';
/** Bumped when the recipe below changes otherwise than through the fragment (a new key). */
const RECIPE = 1;
/** The environment that makes two builds of the same inputs the same file (no date, user or host in it). */
const REPRODUCIBLE = {
  KBUILD_BUILD_TIMESTAMP: '1970-01-01',
  KBUILD_BUILD_USER: 'isola',
  KBUILD_BUILD_HOST: 'isola',
  KBUILD_BUILD_VERSION: '1',
  LOCALVERSION: '-isola',
};

export interface IsolaKernel {
  /** The uncompressed ELF QEMU loads (-kernel), PVH entry. */
  vmlinux: string;
  /** The configuration it was built with (olddefconfig's output). */
  config: string;
  /** The kernel release it reports (uname -r), e.g. 6.1.158-isola. */
  release: string;
  /** The cache key: hash of the fragment, the linux-source version and the compiler version. */
  key: string;
  /** linux-source-6.1's Debian version. */
  sourceVersion: string;
  /** The compiler's first line of `gcc --version`. */
  compiler: string;
}

/** The fragment in the source tree. */
export function fragmentPath(guestSourceDir: string): string {
  return path.join(guestSourceDir, 'kernel', 'isola.config');
}

export interface KernelPatch {
  name: string;
  text: string;
}

/** The patches beside a fragment (its folder's patches/*.patch), in the order they apply: by name. */
export function kernelPatches(fragmentFile: string): KernelPatch[] {
  const dir = path.join(path.dirname(fragmentFile), 'patches');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.patch')).sort()
    .map((name) => ({ name, text: fs.readFileSync(path.join(dir, name), 'utf8') }));
}

/**
 * A kconfig file's settings: `CONFIG_X=v` as X -> v, `# CONFIG_X is not set` as X -> 'n'.
 * Other comments and blank lines are skipped.
 */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const off = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (off?.[1]) {
      out.set(off[1], 'n');
      continue;
    }
    const on = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (on?.[1] && on[2] !== undefined) out.set(on[1], on[2]);
  }
  return out;
}

/**
 * The fragment's settings the final configuration does not have: kconfig drops an option whose
 * dependencies are unmet (or that this kernel does not know) without a word, so each is
 * compared. An option off in the fragment may be absent from the result (not offered at all).
 * Each entry reads `CONFIG_X=y (got n)`.
 */
export function lostOptions(fragment: string, result: string): string[] {
  const want = parseKconfig(fragment);
  const got = parseKconfig(result);
  const lost: string[] = [];
  for (const [name, value] of want) {
    const have = got.get(name) ?? 'n';
    if (have !== value) lost.push(`${name}=${value} (got ${have === 'n' && !got.has(name) ? 'nothing: unknown or its dependencies unmet' : have})`);
  }
  return lost;
}

/** The cache key of a build: what decides its output. */
export function kernelKey(fragment: string, sourceVersion: string, compiler: string, patches: readonly KernelPatch[] = []): string {
  const inputs = [fragment, sourceVersion, compiler, REPRODUCIBLE, RECIPE, patches.map((p) => [p.name, p.text])];
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
}

/** Where a key's build lives: outside the clone, under the assets folder. */
export function kernelCacheDir(assets: string, key: string): string {
  return path.join(assets, 'kernel', `isola-${key.slice(0, 16)}`);
}

async function must(cmd: string, args: string[], what: string, opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<string> {
  const r = await run(cmd, args, opts).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ');
    throw new IsolaError('UNAVAILABLE', `${what} failed: ${cmd} ${args.join(' ')}: ${tail}`, `install ${SOURCE_PACKAGE}, gcc, make, patch, flex, bison, bc and libelf-dev (npm run bootstrap does), or use ISOLA_VM_KERNEL=cloud`);
  }
  return r.stdout;
}

/** linux-source-6.1's installed version and the compiler's, the inputs of the key besides the fragment. */
export async function buildInputs(): Promise<{ sourceVersion: string; compiler: string }> {
  const v = await run('dpkg-query', ['-W', '-f=${Status} ${Version}', SOURCE_PACKAGE]).catch(() => null);
  const m = v && v.code === 0 ? /install ok installed (\S+)/.exec(v.stdout) : null;
  if (!m?.[1] || !fs.existsSync(SOURCE_TARBALL)) {
    throw new IsolaError('UNAVAILABLE', `${SOURCE_PACKAGE} is not installed, so isola's guest kernel cannot be built`, `apt-get install ${SOURCE_PACKAGE} (npm run bootstrap does), or use ISOLA_VM_KERNEL=cloud`);
  }
  const gcc = await must('gcc', ['--version'], 'finding the compiler');
  return { sourceVersion: m[1], compiler: gcc.split('\n')[0]?.trim() ?? 'gcc' };
}

/** A build folder untouched for this long was left by a setup that was killed (a build takes minutes). */
export const STALE_BUILD_MS = 60 * 60 * 1000;

/**
 * Removes the unpacked source trees (about 1.4 GiB each) of builds that were killed before their
 * `finally` ran: `.isola-build-*` folders not modified for STALE_BUILD_MS. A running build's
 * folder is younger, and is left alone.
 */
export function removeStaleBuilds(kernelDir: string, now: number, log: (m: string) => void = () => undefined): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(kernelDir);
  } catch {
    return removed;
  }
  for (const n of names.filter((x) => x.startsWith('.isola-build-'))) {
    const p = path.join(kernelDir, n);
    try {
      if (now - fs.statSync(p).mtimeMs < STALE_BUILD_MS) continue;
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
      log(`removed ${p}, left by a kernel build that did not finish`);
    } catch {
      /* gone meanwhile */
    }
  }
  return removed;
}

/** The cached build for `key`, or null. */
export function readIsolaKernel(assets: string, key: string): IsolaKernel | null {
  const dir = kernelCacheDir(assets, key);
  try {
    const k = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8')) as IsolaKernel;
    // The files are named from the folder they are in, not from the absolute paths stored when
    // they were built: an assets folder copied or moved elsewhere keeps its kernel.
    const found = { ...k, vmlinux: path.join(dir, 'vmlinux'), config: path.join(dir, 'config') };
    if (found.key !== key || !fs.existsSync(found.vmlinux)) return null;
    return found;
  } catch {
    return null;
  }
}

/**
 * The kernel for the fragment at `fragmentFile`: the cached build when its key is unchanged,
 * else a fresh build (minutes on 2 cores). Refuses a configuration that lost any option of the
 * fragment, naming them.
 */
export async function ensureIsolaKernel(assets: string, fragmentFile: string, callerEnv: Readonly<Record<string, string | undefined>>, log: (m: string) => void): Promise<IsolaKernel> {
  const fragment = fs.readFileSync(fragmentFile, 'utf8');
  const patches = kernelPatches(fragmentFile);
  const { sourceVersion, compiler } = await buildInputs();
  const key = kernelKey(fragment, sourceVersion, compiler, patches);
  const have = readIsolaKernel(assets, key);
  if (have) return have;

  const dir = kernelCacheDir(assets, key);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  removeStaleBuilds(path.dirname(dir), Date.now(), log);
  const tmp = fs.mkdtempSync(path.join(path.dirname(dir), '.isola-build-'));
  try {
    const started = Date.now();
    log(`building isola's guest kernel from ${SOURCE_PACKAGE} ${sourceVersion} (key ${key.slice(0, 12)}; minutes, at nice 19)`);
    await must('tar', ['-xf', SOURCE_TARBALL, '-C', tmp], `unpacking ${SOURCE_TARBALL}`);
    const src = path.join(tmp, fs.readdirSync(tmp).find((d) => d.startsWith('linux-source')) ?? 'linux-source-6.1');
    const env = { ...callerEnv, ...REPRODUCIBLE, ARCH: 'x86_64' };
    for (const p of patches) {
      const file = path.join(tmp, p.name);
      fs.writeFileSync(file, p.text);
      await must('patch', ['-p1', '--forward', '--batch', '-i', file], `applying ${p.name}`, { cwd: src, env });
    }
    const make = (args: string[], what: string) => must('nice', ['-n', '19', 'make', '-s', ...args], what, { cwd: src, env });
    await make(['tinyconfig'], 'make tinyconfig');
    const frag = path.join(tmp, 'isola.config');
    fs.writeFileSync(frag, fragment);
    await must('scripts/kconfig/merge_config.sh', ['-m', '.config', frag], 'merging the config fragment', { cwd: src, env });
    await make(['olddefconfig'], 'make olddefconfig');
    const config = fs.readFileSync(path.join(src, '.config'), 'utf8');
    const lost = lostOptions(fragment, config);
    if (lost.length > 0) {
      throw new IsolaError('UNAVAILABLE', `isola's kernel configuration lost ${lost.length} option(s) of ${path.basename(fragmentFile)}: ${lost.join(', ')}`,
        'fix the fragment (an option needs its dependencies set too), or use ISOLA_VM_KERNEL=cloud');
    }
    await make(['-j2', 'vmlinux'], 'building vmlinux');
    const release = (await must('make', ['-s', 'kernelrelease'], 'reading the kernel release', { cwd: src, env })).trim();
    const stage = path.join(tmp, 'out');
    fs.mkdirSync(stage);
    fs.copyFileSync(path.join(src, 'vmlinux'), path.join(stage, 'vmlinux'));
    fs.writeFileSync(path.join(stage, 'config'), config);
    const k: IsolaKernel = { vmlinux: path.join(dir, 'vmlinux'), config: path.join(dir, 'config'), release, key, sourceVersion, compiler };
    fs.writeFileSync(path.join(stage, 'kernel.json'), JSON.stringify(k, null, 2) + '\n');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(stage, dir);
    log(`isola's guest kernel ${release}: vmlinux ${Math.round(fs.statSync(k.vmlinux).size / 1024)} KiB in ${Math.round((Date.now() - started) / 1000)} s`);
    // Builds of older fragments are replaced, not accumulated.
    for (const f of fs.readdirSync(path.dirname(dir))) {
      if (f.startsWith('isola-') && path.join(path.dirname(dir), f) !== dir) fs.rmSync(path.join(path.dirname(dir), f), { recursive: true, force: true });
    }
    return k;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
