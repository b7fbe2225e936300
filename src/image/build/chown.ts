import type { FsTree } from './fs-tree.js';

export interface Owner {
  uid: number;
  gid: number;
}

function lookup(file: string | undefined, name: string): number | undefined {
  for (const line of (file ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}

/**
 * COPY --chown=USER[:GROUP]: numbers as they are, names looked up in the destination image's
 * /etc/passwd and /etc/group (Docker's rule; the build context's host users never count). A
 * user without a group gets the same number as group, as Docker documents.
 * Throws an Error naming the missing user or group; the caller adds FILE:LINE.
 */
export function resolveOwner(spec: string, tree: FsTree): Owner {
  const [user = '', group] = spec.split(':');
  const num = (v: string, kind: 'user' | 'group'): number => {
    if (/^\d+$/.test(v)) return Number(v);
    const id = lookup(tree.content(kind === 'user' ? 'etc/passwd' : 'etc/group'), v);
    if (id === undefined) throw new Error(`${kind} "${v}" is not in the image's /etc/${kind === 'user' ? 'passwd' : 'group'}`);
    return id;
  };
  const uid = num(user, 'user');
  return { uid, gid: group === undefined ? uid : num(group, 'group') };
}
