import type { Router, Call } from './router.js';
import { SEGMENT } from './router.js';
import { findInstance } from './containers.js';
import { exportFilesystem } from '../engine/export-fs.js';

/**
 * GET /containers/{id}/export (`docker export`): the instance's root file system as a tar
 * (engine/export-fs.ts); a VM or hybrid is refused with 409 and the reason, before any byte.
 */
async function exportContainer(c: Call): Promise<void> {
  const rec = findInstance(c, c.params[0] ?? '');
  try {
    await exportFilesystem(c.api.engine, rec.id, () => {
      c.res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      return c.res;
    });
  } catch (e) {
    // Once the tar has begun, a failure must not look like a whole archive: the connection is cut.
    if (c.res.headersSent) return void c.res.destroy(e as Error);
    throw e;
  }
  c.res.end();
}

export function register(r: Router): void {
  r.add('GET', `/containers/${SEGMENT}/export`, exportContainer);
}
