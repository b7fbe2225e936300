import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IsolaError } from '../core/errors.js';
import type { InstanceSpec } from '../core/types.js';
import { lifeOf } from '../state/instances.js';
import { commitInstanceImage } from '../image/commit.js';
import { normalizeRef } from '../image/ref.js';
import type { ConfigBody } from '../image/build/steps.js';
import type { Engine } from './engine.js';

export interface CommitOptions {
  /** name[:tag]; absent: `<instance>-commit:latest`. */
  ref?: string;
  message?: string;
  author?: string;
  changes: readonly string[];
  /** Freeze a running instance while its changes are read (Docker's default). */
  pause: boolean;
}

/**
 * `isola commit`: the instance's writable layer (Engine.exportChanges, as each build step) becomes
 * a new image on top of the one it runs. A VM's or a hybrid's changes are blocks of a qcow2
 * overlay on an ext4 disk, not files isola can list: refused, naming what keeps them instead.
 */
export async function commitInstance(engine: Engine, ref: string, o: CommitOptions): Promise<{ ref: string; digest: string; id: string }> {
  await engine.reconcile();
  const rec = engine.find(ref);
  if (!engine.driver(rec.kind).exportChanges) {
    throw new IsolaError('FAILED_PRECONDITION', `commit reads a container's writable layer, and ${rec.kind} instance ${rec.name} keeps its changes as blocks of its VM disk, not as files`, `keep its disk with isola snapshot create ${rec.name}, or run the image as a container (--as container) to commit`);
  }
  const target = normalizeRef(o.ref ?? `${rec.name.toLowerCase()}-commit:latest`);
  const scratch = path.join(engine.paths.tmp, `commit-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const freeze = o.pause && rec.state === 'running' && !lifeOf(rec).paused;
  try {
    const tarFile = path.join(scratch, 'layer.tar');
    if (freeze) await engine.pause(rec.id);
    try {
      await engine.exportChanges(rec.id, tarFile);
    } finally {
      if (freeze) await engine.unpause(rec.id);
    }
    const out = await commitInstanceImage(engine.images(), {
      parentDigest: rec.imageDigest,
      ref: target,
      tarFile,
      base: instanceConfig(rec.spec),
      changes: o.changes,
      createdBy: rec.spec.argv.join(' '),
      ...(o.author !== undefined ? { author: o.author } : {}),
      ...(o.message !== undefined ? { comment: o.message } : {}),
    });
    engine.event(rec, 'commit', { comment: o.message ?? '', imageName: target });
    return { ref: target, digest: out.digest, id: out.configDigest };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * What the instance ran with, as Docker merges a container's config into the committed image:
 * its environment, folder, user and labels; its command as the image's entrypoint and cmd when
 * the image's entrypoint still starts it, else as the whole cmd.
 */
export function instanceConfig(spec: InstanceSpec): Partial<ConfigBody> {
  const img = spec.image.config;
  const ep = img.entrypoint;
  const keepsEntrypoint = ep.length > 0 && ep.every((a, i) => spec.argv[i] === a);
  return {
    Env: spec.env,
    WorkingDir: spec.workdir,
    ...(spec.user ? { User: spec.user } : {}),
    ...(spec.labels && Object.keys(spec.labels).length > 0 ? { Labels: spec.labels } : {}),
    Entrypoint: keepsEntrypoint ? ep : null,
    Cmd: keepsEntrypoint ? spec.argv.slice(ep.length) : spec.argv,
  };
}
