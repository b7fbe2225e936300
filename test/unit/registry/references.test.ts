import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeRef, parseReference, repoAndTag } from '../../../src/image/ref.js';
import { parseChallenges } from '../../../src/image/registry/challenge.js';
import { parsePlatform, selectManifest, assertPlatform } from '../../../src/image/platform.js';
import { isLoopback } from '../../../src/image/registry/transport.js';
import { isIsolaError } from '../../../src/core/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

test('references: a first component with a dot, a port or localhost is a registry host; otherwise the name is local', () => {
  assert.deepEqual(parseReference('app'), { repository: 'app' });
  assert.deepEqual(parseReference('team/app:1.0'), { repository: 'team/app', tag: '1.0' });
  assert.deepEqual(parseReference('127.0.0.1:5000/team/app'), { host: '127.0.0.1:5000', repository: 'team/app' });
  assert.deepEqual(parseReference('localhost/app:v2'), { host: 'localhost', repository: 'app', tag: 'v2' });
  assert.deepEqual(parseReference('registry.example.com/a/b/c:x'), { host: 'registry.example.com', repository: 'a/b/c', tag: 'x' });
  assert.deepEqual(parseReference('[::1]:5000/app'), { host: '[::1]:5000', repository: 'app' });
  assert.deepEqual(parseReference(`h:1/app@${D}`), { host: 'h:1', repository: 'app', digest: D });
  assert.deepEqual(parseReference(`h:1/app:t@${D}`), { host: 'h:1', repository: 'app', tag: 't', digest: D });
});

test('references: the stored name keeps the host and prefers the digest over a tag', () => {
  assert.equal(normalizeRef('127.0.0.1:5000/app'), '127.0.0.1:5000/app:latest');
  assert.equal(normalizeRef(`127.0.0.1:5000/app:1@${D}`), `127.0.0.1:5000/app@${D}`);
  assert.deepEqual(repoAndTag(`h:1/app@${D}`), { repository: 'h:1/app', tag: '<none>' });
  assert.deepEqual(repoAndTag('h:1/app:2'), { repository: 'h:1/app', tag: '2' });
});

test('references: malformed ones are refused as invalid arguments', () => {
  for (const bad of ['', 'UPPER/x', 'app@sha256:abc', 'app@md5:' + 'a'.repeat(32), 'h:1/App', 'h:port/x', 'a//b', 'x:', ':tag', '-a', 'a:' + 'b'.repeat(129), 'bad name']) {
    assert.throws(() => parseReference(bad), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), bad);
  }
});

test('challenges: Bearer with quoted commas, Basic, several in one header', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="isola test"'), [{ scheme: 'basic', params: { realm: 'isola test' } }]);
  assert.deepEqual(parseChallenges('Basic realm="a", Bearer realm="http://127.0.0.1:1/t",service=reg'), [
    { scheme: 'basic', params: { realm: 'a' } },
    { scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/t', service: 'reg' } },
  ]);
  assert.deepEqual(parseChallenges('Bearer realm="with \\"quote\\""'), [{ scheme: 'bearer', params: { realm: 'with "quote"' } }]);
  assert.deepEqual(parseChallenges(''), []);
});

test('platforms: parsed as os/arch[/variant], picked from an index, a wrong one refused', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.throws(() => parsePlatform('linux'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
  const entries = [
    { mediaType: 'm', digest: 'sha256:1', size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    { mediaType: 'm', digest: 'sha256:2', size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: 'm', digest: 'sha256:3', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'm', digest: 'sha256:4', size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ];
  assert.equal(selectManifest(entries, { os: 'linux', architecture: 'amd64' }, 'x').digest, 'sha256:3');
  assert.equal(selectManifest(entries, parsePlatform('linux/arm64'), 'x').digest, 'sha256:4');
  assert.equal(selectManifest(entries, parsePlatform('linux/arm/v7'), 'x').digest, 'sha256:2');
  assert.throws(() => selectManifest(entries, parsePlatform('linux/s390x'), 'the index'), (e) => isIsolaError(e, 'NOT_FOUND') && /linux\/arm\/v7, linux\/amd64, linux\/arm64\/v8/.test(e.message) && !/unknown/.test(e.message) && /--platform/.test(e.hint ?? ''));
  assert.throws(() => assertPlatform({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'amd64' }, 'img'), (e) => isIsolaError(e, 'FAILED_PRECONDITION') && /is for linux\/arm64, not linux\/amd64/.test(e.message));
  assert.doesNotThrow(() => assertPlatform({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' }, 'img'));
});

test('loopback registries are 127.0.0.0/8, ::1 and localhost, with or without a port', () => {
  for (const h of ['127.0.0.1:5000', '127.1.2.3', 'localhost:5000', 'localhost', '[::1]:5000']) assert.equal(isLoopback(h), true, h);
  for (const h of ['128.0.0.1:5000', 'localhost.example.com', 'registry:5000', '[::2]:1', '10.0.0.1']) assert.equal(isLoopback(h), false, h);
});
