import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { ResolvedImage } from '../driver.js';
import { IsolaError } from '../../spec/errors.js';
import { unpackImage } from '../../image/unpack.js';
import { allocatedBytes } from '../../util/fsx.js';
import { withDirLock } from '../../util/lock.js';
import { run } from '../../util/exec.js';
import { which } from '../../util/which.js';
import { baseDiskPath, ext4SizeBytes } from '../vm/disk.js';
import { runtimeBinary } from '../container/runtime.js';
import { GUEST } from './persist.js';
import { START_SCRIPT } from './launch.js';

/** busybox applets the start script, exec and the security profile use in the guest. */
const APPLETS = ['sh', 'mount', 'mkdir', 'hostname', 'cat', 'grep', 'sed', 'sleep', 'ls', 'uname', 'readlink', 'head', 'kill', 'echo', 'printf', 'ps'];

export interface GuestSystem {
  runc: string;
  busybox: string;
  /** runc's shared libraries (ldd), copied to the same paths in the guest. */
  libs: string[];
}

/** The host programs that make up the guest system, or why they cannot. */
export async function guestSystem(): Promise<GuestSystem> {
  const runc = runtimeBinary('runc');
  if (!runc) throw new IsolaError('UNAVAILABLE', 'runc is not installed: the hybrid guest runs the container with the host\'s runc', 'install Debian\'s runc package (npm run bootstrap does)');
  const busybox = which('busybox') ?? (fs.existsSync('/bin/busybox') ? '/bin/busybox' : null);
  if (!busybox) throw new IsolaError('UNAVAILABLE', 'busybox is not installed: the hybrid guest\'s shell is the host\'s static busybox', 'install Debian\'s busybox-static package');
  const r = await run('ldd', [runc]);
  const libs: string[] = [];
  for (const l of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(l) ?? /^\s*(\/\S+)\s+\(/.exec(l);
    if (m?.[1]) libs.push(m[1]);
  }
  return { runc, busybox, libs };
}

/** One disk per image and guest system: its identity covers both, so a new runc makes a new disk. */
export function hybridDigest(image: ResolvedImage, sys: GuestSystem): string {
  const h = createHash('sha256');
  h.update(image.digest);
  h.update(START_SCRIPT);
  for (const f of [sys.runc, sys.busybox, ...sys.libs]) {
    const st = fs.statSync(f);
    h.update(`${f}:${st.size}:${Math.floor(st.mtimeMs)}`);
  }
  return `sha256:${h.digest('hex')}`;
}

/**
 * The guest's root disk: busybox, runc and its libraries, the start script, and the image's
 * layers unpacked as the bundle's rootfs. Built once (ext4 by mkfs.ext4 -d, no loop mount)
 * where the VM driver looks for an image's base disk, so the VM driver boots it as it is.
 */
export async function ensureHybridDisk(image: ResolvedImage, cacheDir: string, sys: GuestSystem): Promise<{ digest: string; disk: string }> {
  const digest = hybridDigest(image, sys);
  const disk = baseDiskPath({ ...image, digest }, cacheDir);
  if (fs.existsSync(disk)) return { digest, disk };
  const dir = path.dirname(disk);
  fs.mkdirSync(dir, { recursive: true });
  return withDirLock(`${disk}.lock`, async () => {
    if (fs.existsSync(disk)) return { digest, disk };
    const tag = randomBytes(4).toString('hex');
    const tree = path.join(dir, `.hybrid-${tag}`);
    const tmp = path.join(dir, `.hybrid-${tag}.ext4`);
    try {
      await unpackImage(image, path.join(tree, GUEST.rootfs));
      const put = (src: string, dest: string, mode = 0o755) => {
        const to = path.join(tree, dest);
        fs.mkdirSync(path.dirname(to), { recursive: true });
        fs.copyFileSync(src, to);
        fs.chmodSync(to, mode);
      };
      put(sys.busybox, '/bin/busybox');
      for (const a of APPLETS) fs.symlinkSync('busybox', path.join(tree, 'bin', a));
      put(sys.runc, GUEST.runc);
      for (const lib of sys.libs) put(lib, lib);
      fs.writeFileSync(path.join(tree, GUEST.start), START_SCRIPT, { mode: 0o755 });
      for (const d of ['proc', 'sys', 'dev', 'run', 'tmp']) fs.mkdirSync(path.join(tree, d), { recursive: true });
      const size = ext4SizeBytes(allocatedBytes(tree));
      fs.writeFileSync(tmp, '');
      fs.truncateSync(tmp, size);
      const r = await run('mkfs.ext4', ['-q', '-F', '-L', 'isola-hybrid', '-J', 'size=4', '-E', 'root_owner=0:0', '-d', tree, tmp]).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
      if (r.code !== 0) throw new IsolaError('UNAVAILABLE', `mkfs.ext4 could not build the hybrid root disk of ${image.ref}: ${r.stderr.trim()}`, 'install e2fsprogs 1.43 or newer (npm run bootstrap does)');
      fs.renameSync(tmp, disk);
      return { digest, disk };
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
      fs.rmSync(tmp, { force: true });
    }
  }, 300_000);
}
