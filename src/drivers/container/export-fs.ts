import fs from 'node:fs';
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { IsolaError } from '../../core/errors.js';

/**
 * `docker export` of a container: its root file system as the container sees it (the image with
 * the container's changes, its deletions applied), as one tar stream, running or stopped.
 *
 * The upper directory is stacked read-only over the image's unpacked root in a second overlay,
 * mounted in a mount namespace of its own (unshare) that only the tar inside it sees: the mount
 * goes away with that process, so a crash leaves no mount on the host, only the empty folder
 * `mnt`, inside the instance's folder (removed with it). The volumes and the files the runtime
 * binds over the image's are not in it (Docker's export leaves volumes out too); isola's init
 * (`exclude`) is left out.
 */
export async function exportRootfs(lower: string, upper: string, mnt: string, out: Writable, exclude: readonly string[]): Promise<void> {
  for (const d of [lower, upper]) {
    if (d.includes(':') || d.includes(',')) throw new IsolaError('INTERNAL', `cannot stack ${d} in an overlay: its path holds ':' or ','`, 'use a data root whose path has neither');
  }
  fs.mkdirSync(mnt, { recursive: true, mode: 0o700 });
  const tarArgs = ['-C', mnt, '-cf', '-', '--numeric-owner', '--xattrs', '--xattrs-include=security.capability', '--one-file-system',
    ...exclude.map((e) => `--exclude=./${e}`), '--transform', 's,^\\./,,', '.'];
  const script = 'mount -t overlay overlay -o "ro,lowerdir=$1:$2" "$3" && shift 3 && exec tar "$@"';
  try {
    await new Promise<void>((resolve, reject) => {
      const p = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'export', upper, lower, mnt, ...tarArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (c: Buffer) => { if (stderr.length < 4096) stderr += c.toString(); });
      p.stdout.pipe(out, { end: false });
      // A client that goes away mid-stream must not leave tar blocked on a full pipe.
      const gone = (): void => { if (p.exitCode === null) p.kill('SIGKILL'); };
      out.once('close', gone);
      p.on('error', reject);
      p.on('close', (code) => {
        out.off('close', gone);
        if (code === 0) resolve();
        else reject(new IsolaError('INTERNAL', `export of the container's files failed: ${stderr.trim().split('\n').pop() ?? `exit ${String(code)}`}`, 'see the message; isola needs overlayfs and GNU tar'));
      });
    });
  } finally {
    try {
      fs.rmdirSync(mnt); // never recursive: the mount was only ever in tar's own namespace
    } catch {
      // already gone
    }
  }
}
