import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openDb } from '../../../src/state/db.js';
import { MIGRATIONS } from '../../../src/state/migrations.js';
import { InstanceRepo, type InstanceRecord } from '../../../src/state/instances.js';
import { VolumeRepo } from '../../../src/state/volumes.js';
import { Volumes, anonymousVolumes } from '../../../src/engine/volumes.js';
import { isIsolaError } from '../../../src/core/errors.js';
import type { MountSpec } from '../../../src/core/types.js';

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-volumes-'));
  const db = openDb(path.join(dir, 'isola.db'));
  const instances = new InstanceRepo(db);
  const vols = new Volumes(path.join(dir, 'volumes'), new VolumeRepo(db), instances);
  return { dir, db, instances, vols, close: () => { db.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const rec = (id: string, mounts: MountSpec[]): InstanceRecord => ({
  id, name: `n-${id}`, kind: 'container', imageRef: 'base:latest', imageDigest: 'sha256:x', state: 'exited',
  createdAt: new Date().toISOString(), startedAt: null, finishedAt: null, exitCode: 0, oomKilled: false, ip: null,
  autoRemove: false, cleaned: true, spec: { mounts } as InstanceRecord['spec'], data: {}, ports: [], owner: null, bootId: null,
});
const vol = (name: string, anonymous = false): MountSpec => ({ type: 'volume', source: '', target: `/${name}`, readOnly: false, propagation: 'rprivate', volume: name, ...(anonymous ? { anonymous } : {}) });

test('the volumes migration applies to a database an older isola made, and keeps its instances', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-migrate-'));
  try {
    const file = path.join(dir, 'isola.db');
    const old = new Database(file);
    for (const m of MIGRATIONS.slice(0, 4)) old.exec(m);
    old.pragma('user_version = 4');
    old.prepare("INSERT INTO instances (id, name, kind, image_ref, image_digest, state, created_at, spec_json) VALUES ('i', 'old', 'container', 'b', 'd', 'exited', 't', '{}')").run();
    old.close();
    const db = openDb(file);
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal(new InstanceRepo(db).list()[0]?.name, 'old');
    assert.ok(new VolumeRepo(db).ensure('fresh', false));
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('volumes: folders private above _data, in-use refused, rm -v style removal, prune anonymous or all', () => {
  const t = setup();
  try {
    const v = t.vols.create('web-data', { team: 'a' });
    assert.equal(v.mountpoint, path.join(t.dir, 'volumes', 'web-data', '_data'));
    assert.equal(fs.statSync(path.join(t.dir, 'volumes')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(t.dir, 'volumes', 'web-data')).mode & 0o777, 0o700);
    assert.deepEqual(v.labels, { team: 'a' });
    assert.throws(() => t.vols.create('web-data', {}), (e) => isIsolaError(e, 'ALREADY_EXISTS'));
    assert.throws(() => t.vols.create('../etc', {}), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
    for (const n of ['anon1', 'anon2']) {
      t.vols.repoEnsure(n, true);
      t.vols.materialize(n);
    }
    t.vols.repoEnsure('idle', false);
    t.vols.materialize('idle');
    fs.writeFileSync(path.join(v.mountpoint, 'keep'), 'data');
    t.instances.insert(() => rec('a'.repeat(64), [vol('web-data'), vol('anon1', true)]));
    assert.deepEqual(t.vols.inspect('web-data').usedBy, [`n-${'a'.repeat(64)}`]);
    assert.throws(() => t.vols.remove('web-data'), (e) => isIsolaError(e, 'FAILED_PRECONDITION') && /in use by instance n-a+; remove it first/.test(e.oneLine()));
    assert.deepEqual(t.vols.prune(false), ['anon2'], 'prune takes unused anonymous volumes only');
    assert.deepEqual(t.vols.list().map((x) => x.name).sort(), ['anon1', 'idle', 'web-data']);
    // the instance goes (rm -v): its anonymous volume goes, its named one stays with the data
    const spec = t.instances.get('a'.repeat(64))?.spec;
    t.instances.delete('a'.repeat(64));
    t.vols.removeIfUnused(anonymousVolumes(spec as InstanceRecord['spec']));
    assert.deepEqual(t.vols.list().map((x) => x.name).sort(), ['idle', 'web-data']);
    assert.equal(fs.readFileSync(path.join(v.mountpoint, 'keep'), 'utf8'), 'data');
    assert.deepEqual(t.vols.prune(true).sort(), ['idle', 'web-data']);
    assert.deepEqual(fs.readdirSync(path.join(t.dir, 'volumes')), [], 'nothing left of them');
    assert.throws(() => t.vols.remove('web-data'), (e) => isIsolaError(e, 'NOT_FOUND'));
  } finally {
    t.close();
  }
});

test('a volume folder replaced by a symlink is refused, not followed', () => {
  const t = setup();
  try {
    fs.mkdirSync(path.join(t.dir, 'volumes', 'trap'), { recursive: true });
    fs.symlinkSync('/etc', path.join(t.dir, 'volumes', 'trap', '_data'));
    assert.throws(() => t.vols.materialize('trap'), (e) => isIsolaError(e, 'UNSAFE') && /not a real folder \(a symlink\)/.test(e.message));
  } finally {
    t.close();
  }
});
