import type { Db } from './db.js';

/** A volume as the state database records it; its data is `<root>/volumes/<name>/_data`. */
export interface VolumeRecord {
  name: string;
  createdAt: string;
  /** Made by `-v PATH` or `--mount type=volume` without a source: removed by `rm -v` and `run --rm`. */
  anonymous: boolean;
  labels: Record<string, string>;
}

interface Row {
  name: string;
  created_at: string;
  anonymous: number;
  labels_json: string;
}

const fromRow = (r: Row): VolumeRecord => ({
  name: r.name, createdAt: r.created_at, anonymous: r.anonymous === 1, labels: JSON.parse(r.labels_json) as Record<string, string>,
});

/** The volumes table. Which instances use a volume is in their specs (InstanceSpec.mounts). */
export class VolumeRepo {
  constructor(private readonly db: Db) {}

  /** Records the volume unless it exists; true when this call created it. Safe inside another transaction. */
  ensure(name: string, anonymous: boolean, labels: Record<string, string> = {}): boolean {
    return this.db
      .prepare('INSERT OR IGNORE INTO volumes (name, created_at, anonymous, labels_json) VALUES (?, ?, ?, ?)')
      .run(name, new Date().toISOString(), anonymous ? 1 : 0, JSON.stringify(labels)).changes === 1;
  }

  get(name: string): VolumeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Row | undefined;
    return r && fromRow(r);
  }

  list(): VolumeRecord[] {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as Row[]).map(fromRow);
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }

  /** Runs fn inside one IMMEDIATE transaction (the write lock), so a check and a change cannot interleave with a create. */
  locked<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
