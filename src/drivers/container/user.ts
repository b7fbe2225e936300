import fs from 'node:fs';
import path from 'node:path';
import { invalid } from '../../core/errors.js';

/**
 * Resolves -u (name, uid, name:group, uid:gid) against the image's own /etc/passwd and
 * /etc/group, as Docker does: a numeric id needs no entry, a name must exist in the image.
 */
export function resolveUser(rootfs: string, user: string): { uid: number; gid: number; additionalGids: number[] } {
  if (!user) return { uid: 0, gid: 0, additionalGids: [] };
  const [u = '', g] = user.split(':');
  const passwd = readTable(path.join(rootfs, 'etc/passwd'));
  const groups = readTable(path.join(rootfs, 'etc/group'));
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    gid = Number(passwd.find((p) => p[2] === u)?.[3] ?? uid);
  } else {
    const entry = passwd.find((p) => p[0] === u);
    if (!entry) throw invalid(`user "${u}" does not exist in the image's /etc/passwd`, 'use a numeric uid[:gid] or a user the image defines');
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = groups.find((x) => x[0] === g);
      if (!entry) throw invalid(`group "${g}" does not exist in the image's /etc/group`, 'use a numeric gid or a group the image defines');
      gid = Number(entry[2]);
    }
  }
  const name = passwd.find((p) => Number(p[2]) === uid)?.[0];
  const additionalGids = name ? groups.filter((x) => (x[3] ?? '').split(',').includes(name)).map((x) => Number(x[2])) : [];
  return { uid, gid, additionalGids };
}

function readTable(file: string): string[][] {
  try {
    // The file is inside the image: read it without following a symlink out of the root.
    if (fs.lstatSync(file).isSymbolicLink()) return [];
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}
