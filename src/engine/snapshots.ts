import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import type { SnapshotRef, SnapshotWhile } from '../drivers/driver.js';
import { lifeOf, type InstanceRecord } from '../state/instances.js';
import { SnapshotRepo, type SnapshotRecord } from '../state/snapshots.js';
import { processAlive, processRef } from '../util/process.js';
import { isValidName } from './names.js';
import type { Engine } from './engine.js';

/**
 * `isola snapshot`: an instance's disk (VM, hybrid: a qcow2 internal snapshot of its overlay) or
 * writable layer (container: a copy of its upper directory) kept under a name, and put back
 * exactly. Each snapshot is a row of the state database, recorded (as `creating`, with the
 * process making it) before any file is written, so one cut short by a crash is found again
 * (`pruneSnapshots`); its files live in the instance's folder (or inside its disk) and its row
 * goes with the instance, so `rm` removes both. Everything runs under the instance's lock: a
 * start, stop or rm never interleaves with a snapshot of the same instance.
 */

export interface SnapshotView extends SnapshotRecord {
  instance: string;
}

function repo(engine: Engine): SnapshotRepo {
  return new SnapshotRepo(engine.db);
}

/** A snapshot's files: `<instance dir>/snapshots/<id>` (a VM's live inside its disk; the folder stays empty). */
function refOf(rec: InstanceRecord, s: Pick<SnapshotRecord, 'id'>): SnapshotRef {
  return { id: s.id, dir: path.join(rec.spec.dir, 'snapshots', s.id) };
}

function whileOf(rec: InstanceRecord): SnapshotWhile {
  if (rec.state !== 'running') return 'stopped';
  return lifeOf(rec).paused ? 'paused' : 'running';
}

function usable(rec: InstanceRecord, verb: string): void {
  if (rec.state === 'creating' || rec.state === 'dead') {
    throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is ${rec.state === 'dead' ? 'dead (its create was interrupted)' : 'being created'}: it has no disk to ${verb}`, rec.state === 'dead' ? 'remove it (isola rm)' : 'wait for the create to finish');
  }
}

function drivenBy(engine: Engine, rec: InstanceRecord) {
  const d = engine.driver(rec.kind);
  if (!d.snapshotCreate || !d.snapshotRestore || !d.snapshotRemove) {
    throw new IsolaError('FAILED_PRECONDITION', `${rec.kind} instances have no snapshots`, 'commit a container instead (isola commit)');
  }
  return { create: d.snapshotCreate.bind(d), restore: d.snapshotRestore.bind(d), remove: d.snapshotRemove.bind(d) };
}

/** The instance's snapshot of that name (or id); refused, naming the owner, when it is another instance's. */
function findSnapshot(engine: Engine, rec: InstanceRecord, name: string): SnapshotRecord {
  const r = repo(engine);
  const own = r.get(rec.id, name) ?? r.list(rec.id).find((s) => s.id === name);
  if (own) return own;
  const other = r.named(name)[0];
  if (other) {
    const owner = engine.instances.get(other.instanceId)?.name ?? other.instanceId.slice(0, 12);
    throw invalid(`snapshot ${name} belongs to instance ${owner}, not ${rec.name}`, `restore it on ${owner} (isola snapshot restore ${owner} ${name}); list ${rec.name}'s with isola snapshot ls ${rec.name}`);
  }
  throw notFound(`instance ${rec.name} has no snapshot ${name}`, `list its snapshots with isola snapshot ls ${rec.name}`);
}

export async function createSnapshot(engine: Engine, ref: string, name?: string): Promise<SnapshotView> {
  await engine.reconcile();
  const found = engine.find(ref);
  usable(found, 'snapshot');
  const ops = drivenBy(engine, found);
  const snapName = name ?? new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  if (!isValidName(snapName)) throw invalid(`invalid snapshot name "${snapName}"`, 'use letters, digits, _ . and -, starting with a letter or digit');
  return engine.locked(found, async () => {
    const rec = engine.instances.get(found.id);
    if (!rec) throw notFound(`instance ${found.name} was removed meanwhile`, 'list instances with isola ps --all');
    const r = repo(engine);
    const id = randomBytes(16).toString('hex');
    const createdAt = new Date().toISOString();
    if (!r.begin({ id, instanceId: rec.id, name: snapName, kind: rec.kind, createdAt, owner: processRef(process.pid) })) {
      throw new IsolaError('ALREADY_EXISTS', `instance ${rec.name} already has a snapshot ${snapName}`, `choose another name, or remove it first (isola snapshot rm ${rec.name} ${snapName})`);
    }
    const snap = refOf(rec, { id });
    const now = whileOf(rec);
    try {
      const { bytes } = await ops.create(rec.spec, rec.data, snap, now);
      r.ready(id, bytes);
    } catch (e) {
      await ops.remove(rec.spec, rec.data, snap, now).catch(() => undefined);
      fs.rmSync(snap.dir, { recursive: true, force: true });
      r.delete(id);
      throw e;
    }
    engine.event(rec, 'snapshot', { snapshot: snapName });
    const made = r.get(rec.id, snapName);
    if (!made) throw new IsolaError('INTERNAL', `snapshot ${snapName} vanished after it was made`);
    return { ...made, instance: rec.name };
  });
}

/** Snapshots of one instance, or of all. */
export async function listSnapshots(engine: Engine, ref?: string): Promise<SnapshotView[]> {
  const names = new Map(engine.instances.list().map((i) => [i.id, i.name]));
  const rows = ref === undefined ? repo(engine).list() : repo(engine).list(engine.find(ref).id);
  return rows.map((s) => ({ ...s, instance: names.get(s.instanceId) ?? s.instanceId.slice(0, 12) }));
}

export async function restoreSnapshot(engine: Engine, ref: string, name: string): Promise<SnapshotView> {
  await engine.reconcile();
  const found = engine.find(ref);
  usable(found, 'restore');
  const snap = findSnapshot(engine, found, name);
  const ops = drivenBy(engine, found);
  const refuseRunning = (rec: InstanceRecord): void => {
    if (rec.state === 'running') {
      throw new IsolaError('FAILED_PRECONDITION', `instance ${rec.name} is running: its disk cannot be put back under it`, `stop it first (isola stop ${rec.name}), then restore`);
    }
  };
  refuseRunning(found);
  if (snap.state !== 'ready') throw new IsolaError('FAILED_PRECONDITION', `snapshot ${snap.name} is still being made`, 'wait for it, or remove it (isola snapshot rm)');
  if (found.state === 'exited' && !found.cleaned) await engine.settle(found);
  return engine.locked(found, async () => {
    const rec = engine.instances.get(found.id);
    if (!rec) throw notFound(`instance ${found.name} was removed meanwhile`, 'list instances with isola ps --all');
    refuseRunning(rec);
    await ops.restore(rec.spec, rec.data, refOf(rec, snap));
    engine.event(rec, 'restore', { snapshot: snap.name });
    return { ...snap, instance: rec.name };
  });
}

export async function removeSnapshot(engine: Engine, ref: string, name: string): Promise<void> {
  await engine.reconcile();
  const found = engine.find(ref);
  const snap = findSnapshot(engine, found, name);
  const ops = drivenBy(engine, found);
  await engine.locked(found, async () => {
    const rec = engine.instances.get(found.id) ?? found;
    const s = refOf(rec, snap);
    await ops.remove(rec.spec, rec.data, s, whileOf(rec));
    fs.rmSync(s.dir, { recursive: true, force: true });
    repo(engine).delete(snap.id);
  });
}

/**
 * `system prune`: snapshots whose making was cut short (their process is gone), and snapshot
 * folders no row names (a crash between the files and the row, or an older isola). Rows of removed
 * instances went with them (foreign key). Resolves with how many were removed.
 */
export async function pruneSnapshots(engine: Engine): Promise<number> {
  const r = repo(engine);
  let removed = 0;
  for (const s of r.list()) {
    if (s.state !== 'creating' || processAlive(s.owner)) continue;
    const rec = engine.instances.get(s.instanceId);
    if (rec) {
      const d = engine.driver(rec.kind);
      await d.snapshotRemove?.(rec.spec, rec.data, refOf(rec, s), whileOf(rec)).catch(() => undefined);
      fs.rmSync(refOf(rec, s).dir, { recursive: true, force: true });
    }
    r.delete(s.id);
    removed++;
  }
  const known = new Set(r.list().map((s) => s.id));
  for (const rec of engine.instances.list()) {
    const dir = path.join(rec.spec.dir, 'snapshots');
    if (!fs.existsSync(dir)) continue;
    for (const id of fs.readdirSync(dir)) {
      if (known.has(id)) continue;
      fs.rmSync(path.join(dir, id), { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
