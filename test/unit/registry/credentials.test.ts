import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCredentials, removeCredentials, storeCredentials } from '../../../src/image/registry/credentials.js';
import { loadConfig } from '../../../src/core/config.js';
import { isIsolaError } from '../../../src/core/errors.js';

test('the credentials file is Docker\'s config.json, found through DOCKER_CONFIG or HOME', () => {
  assert.equal(loadConfig({ DOCKER_CONFIG: '/x/dc', HOME: '/home/u' }).credentialsFile, '/x/dc/config.json');
  assert.equal(loadConfig({ HOME: '/home/u' }).credentialsFile, '/home/u/.docker/config.json');
});

test('logins are stored 0600 as base64(user:pass) under the host key, other settings kept, and read back', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-creds-'));
  try {
    const file = path.join(dir, 'docker', 'config.json');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, JSON.stringify({ auths: { 'other:1': { auth: Buffer.from('o:p').toString('base64') } }, psFormat: 'table {{.ID}}' }), { mode: 0o644 });
    storeCredentials(file, '127.0.0.1:5000', { username: 'alice', password: 'pa:ss word' });
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(doc.psFormat, 'table {{.ID}}');
    assert.equal(doc.auths['127.0.0.1:5000'].auth, Buffer.from('alice:pa:ss word').toString('base64'));
    assert.ok(doc.auths['other:1']);
    assert.deepEqual(readCredentials(file, '127.0.0.1:5000'), { username: 'alice', password: 'pa:ss word' });
    assert.equal(readCredentials(file, '127.0.0.1:5001'), undefined);
    assert.equal(removeCredentials(file, '127.0.0.1:5000'), true);
    assert.equal(removeCredentials(file, '127.0.0.1:5000'), false);
    assert.equal(readCredentials(file, '127.0.0.1:5000'), undefined);
    assert.ok(readCredentials(file, 'other:1'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('keys as older Docker clients wrote them (https://host/v1/) name the same registry; a new folder is created 0700', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-creds-'));
  try {
    const file = path.join(dir, 'new', 'config.json');
    assert.equal(readCredentials(file, 'h:1'), undefined, 'a missing file is no login');
    storeCredentials(file, 'h:1', { username: 'u', password: 'p' });
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    fs.writeFileSync(file, JSON.stringify({ auths: { 'https://reg.example.com:443/v1/': { auth: Buffer.from('u2:p2').toString('base64') } } }));
    assert.deepEqual(readCredentials(file, 'reg.example.com:443'), { username: 'u2', password: 'p2' });
    fs.writeFileSync(file, '{not json');
    assert.throws(() => readCredentials(file, 'h:1'), (e) => isIsolaError(e, 'CORRUPT') && e.message.includes(file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
