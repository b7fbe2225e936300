import fs from 'node:fs';
import path from 'node:path';
import { notFound } from '../core/errors.js';
import type { ImageStore } from './store.js';
import { storeLayer } from './layer.js';
import { commitImage } from './compose.js';
import { unpackLayers, type UnpackLimits } from './unpack.js';
import { DEFAULT_PATH } from './base.js';
import type { Descriptor } from './layout.js';

/**
 * `isola import`: a root file system tarball becomes a one-layer OCI image. The tarball is
 * unpacked once into a scratch folder with the same safe unpacker every layer goes through, so
 * an archive that tries to escape is refused before anything is stored.
 */
export async function importRootfs(store: ImageStore, tarFile: string, ref: string, scratchDir: string, cmd: string[] = ['sh'], limits: UnpackLimits = {}): Promise<Descriptor> {
  if (!fs.existsSync(tarFile)) throw notFound(`file "${tarFile}" not found`, 'give the path of a rootfs tar archive (plain or gzip)');
  const scratch = fs.mkdtempSync(path.join(scratchDir, `import-${process.pid}-`));
  try {
    await unpackLayers([tarFile], scratch, limits);
    return await store.withLease(async () => {
      const layer = await storeLayer(store, tarFile);
      return commitImage(store, ref, {
        layers: [layer],
        history: `isola import ${path.basename(tarFile)}`,
        config: { Env: [DEFAULT_PATH], Cmd: cmd, WorkingDir: '/' },
      });
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
