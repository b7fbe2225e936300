import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { IsolaError } from '../core/errors.js';
import { run } from '../util/exec.js';
import { which } from '../util/which.js';
import { cpioArchive, type CpioEntry } from './cpio.js';
import { LAYOUT, guestDir, guestSourceDir, manifestPath, readGuestAssets, type GuestAssets } from './assets.js';
import { buildInputs, ensureIsolaKernel, fragmentPath, kernelKey, kernelPatches, type IsolaKernel } from './kernel-build.js';

/**
 * Idempotent guest setup, run by scripts/bootstrap.sh: fetches Debian's cloud kernel with
 * `apt-get download` (never installed into /boot), keeps vmlinuz and the few modules the guest
 * needs, builds isola's own kernel from linux-source-6.1 (kernel-build.ts: once per config,
 * cached), builds the static init/agent from init.c, and packs the two initramfs files (the
 * cloud kernel's with its modules, isola's kernel's with none). A second run on a ready host
 * only reads the manifest, hashes init.c and the kernel config, and asks dpkg and gcc their
 * versions.
 */
export const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';
/** What the guest needs beyond the built-ins: the virtio transports, disk, net, serial ports. */
export const WANTED_MODULES = ['virtio_mmio', 'virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_console', 'fuse', 'virtiofs'];
/**
 * What a whole disk made by `isola export` needs besides: under another hypervisor an IDE disk
 * (PIIX, as VirtualBox and VMware offer for an OVF's IDE controller) or VMware's paravirtual
 * SCSI, seen as a SCSI disk; under isola, QEMU's fw_cfg, which carries the instance's config.
 * Loaded only when the kernel command line names the root by label (a whole-disk boot).
 */
export const DISK_BOOT_MODULES = ['ata_piix', 'sd_mod', 'vmw_pvscsi', 'qemu_fw_cfg'];
const CFLAGS = ['-static', '-Os', '-s', '-Wall', '-Wextra'];

/**
 * The compiler of each native program. The guest's init is linked against musl: 108 KiB against
 * glibc's 867 KiB static, and every VM carries it twice in its memory (the initramfs QEMU loads,
 * and the file unpacked from it) and once more in QEMU's mapping of the initramfs. The host's
 * helpers stay on gcc and glibc.
 */
const COMPILER: Record<keyof typeof NATIVE, 'musl-gcc' | 'gcc'> = { init: 'musl-gcc', jail: 'gcc', watch: 'gcc', vfs: 'gcc', relay: 'gcc' };
/** The Debian package each compiler comes in, for the refusal when it is missing. */
const COMPILER_PACKAGE = { 'musl-gcc': 'musl-tools', gcc: 'gcc' } as const;

export const log = (msg: string): void => {
  process.stdout.write(`guest: ${msg}\n`);
};

/** Bumped when what goes into the initramfs changes otherwise than through init.c or the module lists. */
const INITRAMFS_RECIPE = 2;

/**
 * The native programs built here: the guest's init, and the host's VMM jail, VM exit watcher,
 * virtiofsd launcher and container terminal relay.
 */
const NATIVE = { init: 'init.c', jail: 'vmm-jail.c', watch: 'exit-watch.c', vfs: 'vfs-launch.c', relay: 'tty-relay.c' } as const;
const OUTPUT = { init: 'init', jail: 'vmm-jail', watch: 'exit-watch', vfs: 'vfs-launch', relay: 'tty-relay' } as const;

function sourceHash(name: keyof typeof NATIVE = 'init'): string {
  const h = createHash('sha256');
  h.update(fs.readFileSync(path.join(guestSourceDir(), NATIVE[name])));
  h.update(CFLAGS.join(' '));
  // gcc, the first compiler, is left out of the key: the host helpers' cached builds stay valid.
  if (COMPILER[name] !== 'gcc') h.update(COMPILER[name]);
  h.update(String(LAYOUT));
  // The initramfs carries the modules too: a new list makes a new one.
  if (name === 'init') h.update(JSON.stringify([WANTED_MODULES, DISK_BOOT_MODULES, INITRAMFS_RECIPE]));
  return h.digest('hex');
}

async function must(cmd: string, args: string[], what: string, opts: { cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.code !== 0) {
    throw new IsolaError('UNAVAILABLE', `${what} failed: ${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`, 'check the host has Debian\'s apt sources and the packages bootstrap.sh installs');
  }
  return r.stdout;
}

/** The kernel package the metapackage points at now, e.g. linux-image-6.1.0-56-cloud-amd64. */
export function parseKernelDependency(aptCacheDepends: string): string | null {
  const m = /Depends:\s*(linux-image-\d[^\s]*)/.exec(aptCacheDepends);
  return m?.[1] ?? null;
}

/** modules.dep lines to a load order for `wanted` (dependencies first), relative paths. */
export function moduleLoadOrder(modulesDep: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const [mod, rest] = line.split(':');
    if (!mod || rest === undefined) continue;
    deps.set(mod.trim(), rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const m of deps.keys()) byName.set(path.basename(m).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), m);
  const order: string[] = [];
  const visit = (m: string, stack: Set<string>): void => {
    if (order.includes(m) || stack.has(m)) return;
    stack.add(m);
    for (const d of deps.get(m) ?? []) visit(d, stack);
    order.push(m);
  };
  for (const w of wanted) {
    const m = byName.get(w);
    if (m) visit(m, new Set());
  }
  return order;
}

async function fetchKernel(assets: string): Promise<{ version: string; pkg: string; dir: string; modules: string[]; diskModules: string[] }> {
  let depends = await must('apt-cache', ['depends', KERNEL_METAPACKAGE], 'resolving the guest kernel');
  let pkg = parseKernelDependency(depends);
  if (!pkg) {
    log('apt has no package lists yet: apt-get update');
    await must('apt-get', ['update', '-qq'], 'apt-get update');
    depends = await must('apt-cache', ['depends', KERNEL_METAPACKAGE], 'resolving the guest kernel');
    pkg = parseKernelDependency(depends);
  }
  if (!pkg) throw new IsolaError('UNAVAILABLE', `${KERNEL_METAPACKAGE} does not name a kernel package`, 'check the host\'s apt sources include Debian main');
  const version = pkg.replace(/^linux-image-/, '');
  const dir = path.join(assets, 'kernel', version);
  // The marker names the module lists it was made for: a new list extracts the package again.
  const lists = createHash('sha256').update(JSON.stringify([WANTED_MODULES, DISK_BOOT_MODULES])).digest('hex').slice(0, 8);
  const done = path.join(dir, `modules.${lists}.isola`);
  const doneDisk = path.join(dir, `modules-disk.${lists}.isola`);
  if (fs.existsSync(done) && fs.existsSync(doneDisk) && fs.existsSync(path.join(dir, 'vmlinuz'))) {
    const pkgVersion = fs.readFileSync(path.join(dir, 'package'), 'utf8').trim();
    const read = (f: string) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
    return { version, pkg: pkgVersion, dir, modules: read(done), diskModules: read(doneDisk) };
  }
  const tmp = fs.mkdtempSync(path.join(assets, '.kernel-'));
  try {
    fs.chmodSync(tmp, 0o777); // apt-get download hands the file to the _apt user
    log(`downloading ${pkg} (apt-get download)`);
    await must('apt-get', ['download', '-q', pkg], 'downloading the guest kernel', { cwd: tmp });
    const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new IsolaError('UNAVAILABLE', `apt-get download ${pkg} produced no .deb`, 'run it by hand to see why');
    const x = path.join(tmp, 'x');
    await must('dpkg-deb', ['-x', path.join(tmp, deb), x], 'unpacking the guest kernel');
    const modRoot = path.join(x, 'lib', 'modules', version);
    await must('depmod', ['-b', x, version], 'computing module dependencies');
    const dep = fs.readFileSync(path.join(modRoot, 'modules.dep'), 'utf8');
    const order = moduleLoadOrder(dep, WANTED_MODULES);
    const diskOrder = moduleLoadOrder(dep, DISK_BOOT_MODULES).filter((m) => !order.includes(m));
    const stage = path.join(tmp, 'stage');
    fs.mkdirSync(path.join(stage, 'modules'), { recursive: true });
    fs.copyFileSync(path.join(x, 'boot', `vmlinuz-${version}`), path.join(stage, 'vmlinuz'));
    fs.copyFileSync(path.join(x, 'boot', `config-${version}`), path.join(stage, 'config'));
    fs.copyFileSync(path.join(modRoot, 'modules.builtin'), path.join(stage, 'modules.builtin'));
    for (const m of [...order, ...diskOrder]) fs.copyFileSync(path.join(modRoot, m), path.join(stage, 'modules', path.basename(m)));
    const names = order.map((m) => path.basename(m));
    const diskNames = diskOrder.map((m) => path.basename(m));
    fs.writeFileSync(path.join(stage, 'package'), deb.replace(/\.deb$/, '') + '\n');
    fs.writeFileSync(path.join(stage, path.basename(done)), names.join('\n') + '\n');
    fs.writeFileSync(path.join(stage, path.basename(doneDisk)), diskNames.join('\n') + '\n');
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(stage, dir);
    log(`kernel ${version}: vmlinuz and ${names.length} modules (${names.join(', ')}), ${diskNames.length} more for whole-disk boots`);
    return { version, pkg: deb.replace(/\.deb$/, ''), dir, modules: names, diskModules: diskNames };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const WHAT = {
  init: 'the static init/agent', jail: 'the VMM jail', watch: 'the VM exit watcher', vfs: 'the virtiofsd launcher', relay: 'the container terminal relay',
} as const;

async function buildNative(assets: string, name: keyof typeof NATIVE, hash: string, searchPath: readonly string[]): Promise<string> {
  const out = path.join(guestDir(assets), `${OUTPUT[name]}-${hash.slice(0, 12)}`);
  if (fs.existsSync(out)) return out;
  log(`building ${WHAT[name]} (${COMPILER[name]} -static -Os)`);
  const tmp = `${out}.tmp`;
  if (!which(COMPILER[name], searchPath)) {
    throw new IsolaError('UNAVAILABLE', `building ${NATIVE[name]} needs ${COMPILER[name]}, which is not installed`, `install Debian's ${COMPILER_PACKAGE[COMPILER[name]]} package (npm run bootstrap does)`);
  }
  await must(COMPILER[name], [...CFLAGS, '-o', tmp, path.join(guestSourceDir(), NATIVE[name])], `building ${NATIVE[name]}`);
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, out);
  return out;
}

/** The shared initramfs: /init, the modules and their load order, the mount points. */
export function buildInitramfs(init: string, kernelDir: string, modules: string[], diskModules: string[] = []): Buffer {
  const entries: CpioEntry[] = [
    { type: 'dir', name: 'dev' },
    { type: 'char', name: 'dev/console', major: 5, minor: 1 },
    { type: 'dir', name: 'proc' },
    { type: 'dir', name: 'sys' },
    { type: 'dir', name: 'newroot' },
    { type: 'dir', name: 'isola' },
    { type: 'dir', name: 'lib' },
    { type: 'dir', name: 'lib/modules' },
    { type: 'dir', name: 'lib/modules/isola' },
    { type: 'file', name: 'init', data: fs.readFileSync(init), mode: 0o755 },
    { type: 'file', name: 'isola/modules', data: Buffer.from(modules.join('\n') + '\n') },
    { type: 'file', name: 'isola/modules-disk', data: Buffer.from(diskModules.join('\n') + '\n') },
  ];
  for (const m of [...modules, ...diskModules]) entries.push({ type: 'file', name: `lib/modules/isola/${m}`, data: fs.readFileSync(path.join(kernelDir, 'modules', m)) });
  return cpioArchive(entries);
}

/** The cache key isola's kernel would have now (cheap: reads the fragment, dpkg and gcc --version). */
async function wantedKernelKey(): Promise<string | null> {
  try {
    const { sourceVersion, compiler } = await buildInputs();
    const fragment = fragmentPath(guestSourceDir());
    return kernelKey(fs.readFileSync(fragment, 'utf8'), sourceVersion, compiler, kernelPatches(fragment));
  } catch {
    return null; // not buildable: ensureIsolaKernel says why
  }
}

export async function setupGuest(assets: string, opts: { refresh?: boolean; env?: Readonly<Record<string, string | undefined>>; searchPath: readonly string[] }): Promise<GuestAssets> {
  const hash = sourceHash();
  const kernelKeyNow = await wantedKernelKey();
  const jailHash = sourceHash('jail');
  const watchHash = sourceHash('watch');
  const vfsHash = sourceHash('vfs');
  const relayHash = sourceHash('relay');
  const have = readGuestAssets(assets);
  if (have && have.initHash === hash && have.vmmJail.endsWith(jailHash.slice(0, 12)) && have.exitWatch.endsWith(watchHash.slice(0, 12))
    && have.vfsLaunch?.endsWith(vfsHash.slice(0, 12)) && have.ttyRelay?.endsWith(relayHash.slice(0, 12))
    && kernelKeyNow !== null && have.isolaKernel?.key === kernelKeyNow && !opts.refresh) {
    log(`ready (kernels ${have.isolaKernel.release} and ${have.kernelVersion}, init ${hash.slice(0, 12)})`);
    return have;
  }
  fs.mkdirSync(guestDir(assets), { recursive: true });
  const k = await fetchKernel(assets);
  const { searchPath } = opts;
  const init = await buildNative(assets, 'init', hash, searchPath);
  const vmmJail = await buildNative(assets, 'jail', jailHash, searchPath);
  const exitWatch = await buildNative(assets, 'watch', watchHash, searchPath);
  const vfsLaunch = await buildNative(assets, 'vfs', vfsHash, searchPath);
  const ttyRelay = await buildNative(assets, 'relay', relayHash, searchPath);
  const initramfs = path.join(guestDir(assets), `initramfs-${k.version}-${hash.slice(0, 12)}.cpio`);
  if (!fs.existsSync(initramfs)) {
    const tmp = `${initramfs}.tmp`;
    // The disk modules stay out of the initramfs every VM boots (they double its size); `isola
    // export` builds a whole disk's initramfs with them (GuestAssets.diskModules).
    fs.writeFileSync(tmp, buildInitramfs(init, k.dir, k.modules));
    fs.renameSync(tmp, initramfs);
    log(`initramfs ${path.basename(initramfs)} (${Math.round(fs.statSync(initramfs).size / 1024)} KiB)`);
  }
  // isola's own kernel: everything built in, so its initramfs is the init alone. When it cannot
  // be built, the rest is still set up (ISOLA_VM_KERNEL=cloud works) and setup fails at the end.
  let ik: IsolaKernel | null = null;
  let kernelError: unknown = null;
  try {
    ik = await ensureIsolaKernel(assets, fragmentPath(guestSourceDir()), opts.env ?? {}, log);
  } catch (e) {
    kernelError = e;
    log(`isola's guest kernel was not built: ${e instanceof IsolaError ? e.oneLine() : (e as Error).message}`);
  }
  const isolaInitramfs = path.join(guestDir(assets), `initramfs-isola-${hash.slice(0, 12)}.cpio`);
  if (!fs.existsSync(isolaInitramfs)) {
    const tmp = `${isolaInitramfs}.tmp`;
    fs.writeFileSync(tmp, buildInitramfs(init, k.dir, []));
    fs.renameSync(tmp, isolaInitramfs);
    log(`initramfs ${path.basename(isolaInitramfs)} (${Math.round(fs.statSync(isolaInitramfs).size / 1024)} KiB, no modules)`);
  }
  const manifest: GuestAssets = {
    layout: LAYOUT,
    kernelVersion: k.version,
    kernelPackage: k.pkg,
    kernel: path.join(k.dir, 'vmlinuz'),
    initramfs,
    init,
    initHash: hash,
    modules: k.modules,
    kernelDir: k.dir,
    diskModules: k.diskModules,
    vmmJail,
    exitWatch,
    vfsLaunch,
    ttyRelay,
    ...(ik ? { isolaKernel: { vmlinux: ik.vmlinux, release: ik.release, key: ik.key, initramfs: isolaInitramfs } } : {}),
  };
  const tmp = `${manifestPath(assets)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(tmp, manifestPath(assets));
  // Old init builds and initramfs files of this layout are replaced, not accumulated.
  for (const f of fs.readdirSync(guestDir(assets))) {
    const p = path.join(guestDir(assets), f);
    const ours = ['init-', 'initramfs-', 'vmm-jail-', 'exit-watch-', 'vfs-launch-', 'tty-relay-'].some((prefix) => f.startsWith(prefix));
    if (ours && ![init, initramfs, isolaInitramfs, vmmJail, exitWatch, vfsLaunch, ttyRelay].includes(p)) fs.rmSync(p, { force: true });
  }
  if (kernelError) throw kernelError;
  log(`ready (kernels ${ik?.release} and ${k.version}, init ${hash.slice(0, 12)})`);
  return manifest;
}
