import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { IsolaError } from '../core/errors.js';
import type { ImageStore } from './store.js';
import { storeLayer } from './layer.js';
import { commitImage } from './compose.js';

export const BASE_REF = 'base:latest';
const BUSYBOX = '/bin/busybox';
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// A fixed timestamp keeps the base image's digest the same on every host with the same busybox.
const EPOCH = new Date('2024-01-01T00:00:00Z');

/**
 * Builds `base`, the embedded default image, from Debian's busybox-static: one layer holding
 * busybox, a symlink per applet, and the few files a shell expects. Works with no network.
 */
export async function ensureBaseImage(store: ImageStore): Promise<void> {
  if (store.findDescriptor(BASE_REF)) return;
  if (!fs.existsSync(BUSYBOX)) {
    throw new IsolaError('UNAVAILABLE', 'the base image needs /bin/busybox, which is missing', 'install Debian\'s busybox-static (npm run bootstrap does)');
  }
  // In the store's temp area, named after this process: a build cut short is swept by the next collection.
  const stage = store.tempPath();
  fs.mkdirSync(stage, { mode: 0o700 });
  try {
    const rootfs = path.join(stage, 'rootfs');
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'tmp', 'proc', 'sys', 'dev', 'run', 'var/tmp', 'home']) {
      fs.mkdirSync(path.join(rootfs, d), { recursive: true, mode: 0o755 });
    }
    fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
    fs.chmodSync(path.join(rootfs, 'var/tmp'), 0o1777);
    fs.chmodSync(path.join(rootfs, 'root'), 0o700);
    fs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
    fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
    const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const a of applets) {
      const dest = path.join(rootfs, a);
      if (a === 'bin/busybox' || fs.existsSync(dest)) continue;
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.symlinkSync(path.relative(path.dirname(dest), path.join(rootfs, 'bin/busybox')), dest);
    }
    fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    fs.writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    fs.writeFileSync(path.join(rootfs, 'etc/os-release'), 'NAME="isola base"\nID=isola-base\nPRETTY_NAME="isola base (busybox)"\n');
    const tarFile = path.join(stage, 'layer.tar');
    // Loaded here, not at the top: most commands never build the base image (start-up cost).
    const { create: createTar } = await import('tar');
    // Sorted entries, fixed times and no pax headers:
    // the same busybox gives the same layer digest on every host.
    const entries = fs.readdirSync(rootfs, { recursive: true }).map(String).sort();
    await createTar({
      file: tarFile, cwd: rootfs, mtime: EPOCH, noPax: true, noDirRecurse: true,
      // node-tar also writes atime and ctime into the ustar header; pin them too.
      onWriteEntry: (e) => {
        if (e.stat) Object.assign(e.stat, { atime: EPOCH, ctime: EPOCH });
      },
    }, entries);
    await store.withLease(async () => {
      const layer = await storeLayer(store, tarFile);
      await commitImage(store, BASE_REF, {
        layers: [layer],
        created: EPOCH.toISOString(),
        history: 'isola: busybox-static base image',
        config: { Env: [DEFAULT_PATH], Cmd: ['sh'], WorkingDir: '/' },
      });
    });
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
