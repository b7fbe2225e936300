import type { Db } from './db.js';

/** One revision of a Compose service: what its replicas were made from (docs/COMPOSE.md). */
export interface RevisionRecord {
  project: string;
  service: string;
  /** 1, 2, …: the order revisions were made in, per service. */
  seq: number;
  createdAt: string;
  imageRef: string;
  imageDigest: string;
  configHash: string;
  /** The service as isola resolved it (its ServiceModel), to make its replicas again. */
  serviceJson: string;
}

interface Row {
  project: string;
  service: string;
  seq: number;
  created_at: string;
  image_ref: string;
  image_digest: string;
  config_hash: string;
  service_json: string;
}

const fromRow = (r: Row): RevisionRecord => ({
  project: r.project, service: r.service, seq: r.seq, createdAt: r.created_at,
  imageRef: r.image_ref, imageDigest: r.image_digest, configHash: r.config_hash, serviceJson: r.service_json,
});

/** The compose_revisions table: a row per change of a service, kept until the stack is gone for good. */
export class RevisionRepo {
  constructor(private readonly db: Db) {}

  /** Oldest first. */
  list(project: string, service: string): RevisionRecord[] {
    return (this.db.prepare('SELECT * FROM compose_revisions WHERE project = ? AND service = ? ORDER BY seq').all(project, service) as Row[]).map(fromRow);
  }

  latest(project: string, service: string): RevisionRecord | undefined {
    const r = this.db.prepare('SELECT * FROM compose_revisions WHERE project = ? AND service = ? ORDER BY seq DESC LIMIT 1').get(project, service) as Row | undefined;
    return r && fromRow(r);
  }

  /** Records a revision when it differs from the latest one (same hash: nothing); resolves with the latest. */
  record(r: Omit<RevisionRecord, 'seq' | 'createdAt'>): RevisionRecord {
    const tx = this.db.transaction((): RevisionRecord => {
      const last = this.latest(r.project, r.service);
      if (last && last.configHash === r.configHash) return last;
      const seq = (last?.seq ?? 0) + 1;
      const createdAt = new Date().toISOString();
      this.db.prepare('INSERT INTO compose_revisions (project, service, seq, created_at, image_ref, image_digest, config_hash, service_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(r.project, r.service, seq, createdAt, r.imageRef, r.imageDigest, r.configHash, r.serviceJson);
      return { ...r, seq, createdAt };
    });
    return tx();
  }

  /** Forgets every revision of a project (a stack compare --ops made and took down again). */
  forget(project: string): void {
    this.db.prepare('DELETE FROM compose_revisions WHERE project = ?').run(project);
  }
}
