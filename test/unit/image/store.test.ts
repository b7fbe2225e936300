import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImageStore } from '../../../src/image/store.js';
import { ensureBaseImage, BASE_REF } from '../../../src/image/base.js';
import { parseRef, normalizeRef } from '../../../src/image/ref.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { processRef } from '../../../src/util/process.js';

test('image references follow Docker\'s rules', () => {
  assert.deepEqual(parseRef('base'), { name: 'base', tag: 'latest' });
  assert.deepEqual(parseRef('my/app:1.2'), { name: 'my/app', tag: '1.2' });
  assert.deepEqual(parseRef('localhost:5000/app:v1'), { name: 'localhost:5000/app', tag: 'v1' });
  assert.equal(normalizeRef('localhost:5000/app'), 'localhost:5000/app:latest');
  for (const bad of ['UPPER', 'a::b', 'x:', 'bad name']) assert.throws(() => parseRef(bad), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), bad);
});

test('the base image is a real OCI image that is built the same way twice', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-store-'));
  try {
    const a = new ImageStore(path.join(dir, 'a'));
    const b = new ImageStore(path.join(dir, 'b'));
    await ensureBaseImage(a);
    // A second later: any time that leaks into the archive would change the digest.
    await sleep(1100);
    await ensureBaseImage(b);
    const ra = a.resolve(BASE_REF);
    assert.equal(ra.digest, b.resolve(BASE_REF).digest, 'reproducible digest');
    assert.deepEqual(ra.config.cmd, ['sh']);
    assert.ok(ra.config.env.some((e) => e.startsWith('PATH=')));
    assert.equal(ra.config.workingDir, '/');
    const layout = JSON.parse(fs.readFileSync(path.join(dir, 'a', 'oci-layout'), 'utf8'));
    assert.equal(layout.imageLayoutVersion, '1.0.0');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged blob is reported as corrupt with the fix', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-store-'));
  try {
    const s = new ImageStore(dir);
    await ensureBaseImage(s);
    const m = s.findDescriptor(BASE_REF);
    assert.ok(m);
    const manifest = JSON.parse(fs.readFileSync(s.blobPath(m.digest), 'utf8'));
    fs.appendFileSync(s.blobPath(manifest.config.digest), ' ');
    assert.throws(() => s.resolve(BASE_REF), (e) => isIsolaError(e, 'CORRUPT') && /does not match its digest/.test(e.message) && /rmi/.test(e.hint ?? ''));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('removing an image collects the blobs nothing else needs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-store-'));
  try {
    const s = new ImageStore(dir);
    await ensureBaseImage(s);
    assert.ok(fs.readdirSync(path.join(dir, 'blobs/sha256')).length >= 3);
    await s.remove(BASE_REF);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'blobs/sha256')), []);
    await assert.rejects(s.remove(BASE_REF), (e) => isIsolaError(e, 'NOT_FOUND'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('garbage collection spares blobs an operation in progress has committed, and only while it runs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-store-'));
  try {
    const writer = new ImageStore(dir);
    const collector = new ImageStore(dir); // another isola process, as far as the lease files go
    let digest = '';
    await writer.withLease(async () => {
      digest = writer.putJson({ not: 'tagged yet' }).digest;
      collector.collectGarbage();
      assert.ok(fs.existsSync(writer.blobPath(digest)), 'leased: kept');
    });
    collector.collectGarbage();
    assert.equal(fs.existsSync(writer.blobPath(digest)), false, 'the lease ended: collected');
    // A lease of a process that is gone protects nothing and is removed.
    const stale = path.join(dir, 'blobs', '.lease-999999-dead');
    fs.writeFileSync(stale, `999999 1 not-this-boot\n${writer.putJson({ orphan: true }).digest}\n`);
    collector.collectGarbage();
    assert.deepEqual(fs.readdirSync(path.join(dir, 'blobs', 'sha256')), []);
    assert.equal(fs.existsSync(stale), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('system prune takes interrupted downloads nobody resumes, a lock left without its partial file too; a live download keeps both', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-store-'));
  try {
    const store = new ImageStore(dir);
    const blobs = path.join(dir, 'blobs');
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const dead = '999999 1 not-this-boot\n';
    const me = processRef(process.pid)!;
    // a: killed after taking the lock, before the partial file existed (what the fault test hit).
    fs.mkdirSync(`${store.partialPath(digest('a'))}.lock`);
    fs.writeFileSync(path.join(`${store.partialPath(digest('a'))}.lock`, 'owner'), dead);
    // b: killed mid-download: both.
    fs.writeFileSync(store.partialPath(digest('b')), 'half');
    fs.mkdirSync(`${store.partialPath(digest('b'))}.lock`);
    fs.writeFileSync(path.join(`${store.partialPath(digest('b'))}.lock`, 'owner'), dead);
    // c: a download running now (this process holds its lock).
    fs.writeFileSync(store.partialPath(digest('c')), 'in progress');
    fs.mkdirSync(`${store.partialPath(digest('c'))}.lock`);
    fs.writeFileSync(path.join(`${store.partialPath(digest('c'))}.lock`, 'owner'), `${me.pid} ${me.startTime} ${me.bootId}\n`);
    store.collectGarbage(); // rmi: partials stay to be resumed
    assert.equal(fs.readdirSync(blobs).filter((f) => f.startsWith('.partial-')).length, 5);
    store.collectGarbage({ partials: true });
    assert.deepEqual(fs.readdirSync(blobs).filter((f) => f.startsWith('.partial-')).sort(), [`.partial-${'c'.repeat(64)}`, `.partial-${'c'.repeat(64)}.lock`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
