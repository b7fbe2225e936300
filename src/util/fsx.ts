import fs from 'node:fs';
import path from 'node:path';

/** Writes a file atomically (temp file + rename), so readers never see half of it. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/**
 * Bytes really allocated on disk under a path (st_blocks, not apparent size), links not followed
 * and, like `du -x`, mount points not entered (a container's overlay root would count its image).
 */
export function allocatedBytes(p: string): number {
  let total = 0;
  const seen = new Set<string>();
  let dev: number | undefined;
  const walk = (q: string): void => {
    const st = fs.lstatSync(q, { bigint: false });
    dev ??= st.dev;
    if (st.dev !== dev) return;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += st.blocks * 512;
    if (st.isDirectory()) for (const e of fs.readdirSync(q)) walk(path.join(q, e));
  };
  try {
    walk(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return total;
}
