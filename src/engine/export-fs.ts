import type { Writable } from 'node:stream';
import { IsolaError } from '../core/errors.js';
import type { Engine } from './engine.js';

/**
 * `docker export` (GET /containers/{id}/export): an instance's root file system as one tar, running
 * or stopped. A container's is read from the host (the image and its overlay's changes); a VM's
 * and a hybrid's files are inside the guest's disk, which isola does not mount on the host (a file
 * system the guest wrote is untrusted input to the host's kernel): refused with the reason.
 * `begin` is called once every check has passed, before the first byte (an HTTP answer sends its
 * status then), and gives the stream to write to.
 */
export async function exportFilesystem(engine: Engine, ref: string, begin: () => Writable): Promise<void> {
  await engine.reconcile();
  const rec = engine.find(ref);
  const driver = engine.driver(rec.kind);
  if (!driver.exportFs) {
    throw new IsolaError('FAILED_PRECONDITION', `the files of ${rec.kind} instance ${rec.name} are inside its VM's disk, which isola does not mount on the host`, `copy a folder out while it runs: isola cp ${rec.name}:/PATH - (docker cp)`);
  }
  await driver.exportFs(rec.spec, rec.data, begin());
}
