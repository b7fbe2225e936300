import fs from 'node:fs';
import path from 'node:path';
import { IsolaError } from '../../core/errors.js';
import { run } from '../../util/exec.js';
import { which } from '../../util/which.js';

/**
 * A container's changes as an OCI layer: its overlay upper directory, with overlayfs's own
 * markers turned into the OCI image spec's (a 0/0 character device is a deleted path, `.wh.NAME`;
 * a directory with `trusted.overlay.opaque=y` hides the lower one, `.wh..wh..opq`). `isola build`
 * makes a layer of each RUN this way and `isola commit` an image of a container.
 *
 * The layer is written from a staging tree of hard links to the upper directory's files (no
 * copy), so node-tar packs it with the owners, modes and times the container left.
 */
/**
 * `exclude`: paths (relative) the runtime put there, not the workload: the /etc files bind-mounted
 * over the image's, whose copy-up would otherwise ship in every layer (Docker leaves them out too).
 */
export async function exportChanges(upper: string, staging: string, tarFile: string, searchPath: readonly string[], exclude: readonly string[] = []): Promise<{ entries: number }> {
  const opaque = await opaqueDirs(upper, searchPath);
  fs.mkdirSync(staging, { recursive: true });
  let entries = 0;
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(upper, rel)).sort()) {
      const from = path.join(upper, rel, name);
      const to = path.join(staging, rel, name);
      if (exclude.includes(path.join(rel, name))) continue;
      const st = fs.lstatSync(from);
      entries++;
      if (st.isCharacterDevice() && st.rdev === 0) {
        fs.writeFileSync(path.join(staging, rel, `.wh.${name}`), '');
      } else if (st.isDirectory()) {
        fs.mkdirSync(to);
        if (opaque.has(path.join(rel, name))) fs.writeFileSync(path.join(to, '.wh..wh..opq'), '');
        walk(path.join(rel, name));
        fs.chownSync(to, st.uid, st.gid);
        fs.chmodSync(to, st.mode & 0o7777);
        fs.utimesSync(to, st.atime, st.mtime);
      } else if (st.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(from), to);
        fs.lchownSync(to, st.uid, st.gid);
      } else if (st.isFile()) {
        fs.linkSync(from, to);
      } else {
        entries--; // sockets and other device nodes are the runtime's, not the image's
      }
    }
  };
  walk('');
  const { create } = await import('tar');
  await create({ cwd: staging, file: tarFile, portable: false, noMtime: false, preservePaths: false }, fs.readdirSync(staging).sort());
  return { entries };
}

/** Directories of the upper tree marked opaque (relative paths), read with getfattr in one pass. */
async function opaqueDirs(upper: string, searchPath: readonly string[]): Promise<Set<string>> {
  const getfattr = which('getfattr', searchPath);
  if (!getfattr) throw new IsolaError('UNAVAILABLE', 'getfattr is missing: a container\'s deleted folders cannot be told from its new ones', 'install Debian\'s attr package (npm run bootstrap does)');
  const r = await run(getfattr, ['-R', '--absolute-names', '-n', 'trusted.overlay.opaque', '-e', 'text', upper]);
  const out = new Set<string>();
  let file: string | null = null;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice(8);
    else if (file && /^trusted\.overlay\.opaque="y"$/.test(line.trim())) out.add(path.relative(upper, file));
  }
  return out;
}
