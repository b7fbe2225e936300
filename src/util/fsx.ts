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
 * Bytes really allocated on disk under a path (st_blocks, not apparent size), hard links once,
 * links not followed and, like `du -x`, mount points not entered (a container's overlay root
 * would count its image again). Files that vanish during the walk are skipped.
 */
export function allocatedBytes(p: string): number {
  let total = 0;
  const seen = new Set<string>();
  let dev: number | undefined;
  const walk = (q: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(q);
    } catch {
      return;
    }
    dev ??= st.dev;
    if (st.dev !== dev) return;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += st.blocks * 512;
    if (!st.isDirectory()) return;
    let entries: string[];
    try {
      entries = fs.readdirSync(q);
    } catch {
      return;
    }
    for (const e of entries) walk(path.join(q, e));
  };
  walk(p);
  return total;
}

/** A pid written to a file (a pidfile), or null when there is none yet. */
export function readPidFile(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** A folder only its owner (root) may enter, made if missing and tightened if it was looser. */
export function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}
