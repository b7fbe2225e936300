import fs from 'node:fs';
import path from 'node:path';

/** The absolute path of an executable program: a path as given, or the first match on searchPath. */
export function which(prog: string, searchPath: readonly string[]): string | null {
  const candidates = prog.includes('/') ? [prog] : searchPath.map((dir) => path.join(dir, prog));
  for (const p of candidates) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return null;
}
