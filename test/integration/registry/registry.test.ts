import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';

/**
 * isola against a real registry (Debian's docker-registry, CNCF distribution 2.8): plain HTTP
 * on loopback, then TLS with a CA made by the test and htpasswd logins. Every round trip ends
 * with the pulled image running as a container.
 */
let plain: TestRegistry;
let secure: TestRegistry;
let a: Fixture; // pushes
let b: Fixture; // pulls, starting empty but for base
const USER = { user: 'tester', password: 'pw-1234' };

before(async () => {
  [plain, secure, a, b] = await Promise.all([startRegistry(), startRegistry({ tls: true, auth: USER }), makeFixture(), makeFixture()]);
});
after(async () => {
  await Promise.all([plain?.stop(), secure?.stop(), a?.dispose(), b?.dispose()]);
});

const env = (fx: Fixture) => ({ env: { DOCKER_CONFIG: path.join(fx.root, 'docker-config') } });
async function ok(fx: Fixture, args: string[], input?: string) {
  const r = input === undefined ? await isola(fx.root, args, env(fx)) : await runCmd(process.execPath, [path.join(process.cwd(), 'bin/isola.js'), ...args], { env: { ...process.env, ISOLA_ROOT: fx.root, DOCKER_CONFIG: path.join(fx.root, 'docker-config') }, input });
  assert.equal(r.code, 0, `isola ${args.join(' ')}: ${r.stderr}`);
  return r;
}
async function fails(fx: Fixture, args: string[]) {
  const r = await isola(fx.root, args, env(fx));
  assert.equal(r.code, 125, `isola ${args.join(' ')} should fail with 125: ${r.stdout} ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines.at(-1) ?? '', /^isola: [^\n]+; [^\n]+$/, `the error is one line "problem; fix": ${r.stderr}`);
  assert.equal(lines.filter((l) => l.startsWith('isola:')).length, 1, r.stderr);
  return r;
}

test('push to a plain loopback registry, pull into another store, run it; a second push sends nothing', async () => {
  const ref = `${plain.host}/isola/base:1`;
  await ok(a, ['tag', 'base', ref]);
  const push = await ok(a, ['push', ref]);
  assert.match(push.stdout, /^1: digest: sha256:[a-f0-9]{64} size: \d+$/m);
  assert.match(push.stderr, /The push refers to repository \[127\.0\.0\.1:\d+\/isola\/base\]/);
  const again = await ok(a, ['push', ref]);
  assert.match(again.stderr, /Layer already exists/);
  assert.doesNotMatch(again.stderr, /Pushed/);
  const pull = await ok(b, ['pull', ref]);
  assert.equal(pull.stdout.trim(), ref);
  assert.match(pull.stderr, /Digest: sha256:/);
  assert.equal(push.stdout.match(/sha256:[a-f0-9]{64}/)?.[0], pull.stderr.match(/Digest: (sha256:[a-f0-9]{64})/)?.[1], 'same digest both ways');
  const run = await ok(b, ['run', '--rm', ref, 'echo', 'ok']);
  assert.equal(run.stdout, 'ok\n');
  const byDigest = await ok(b, ['pull', '-q', `${plain.host}/isola/base@${pull.stderr.match(/Digest: (sha256:[a-f0-9]{64})/)?.[1]}`]);
  assert.match(byDigest.stdout, /@sha256:/);
  const hist = await ok(b, ['history', '--json', ref]);
  assert.equal(JSON.parse(hist.stdout)[0].createdBy, 'isola: busybox-static base image');
});

test('a large random layer goes up in chunks and comes back bit-identical; pushing to a sibling repository mounts its blobs', async () => {
  const dir = fs.mkdtempSync(path.join(a.root, 'big-'));
  fs.mkdirSync(path.join(dir, 'root', 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'root', 'random.bin'), randomBytes(12 * 1024 * 1024));
  fs.copyFileSync('/bin/busybox', path.join(dir, 'root', 'bin', 'busybox'));
  for (const applet of ['sh', 'wc']) fs.symlinkSync('busybox', path.join(dir, 'root', 'bin', applet));
  const t = await runCmd('tar', ['-C', path.join(dir, 'root'), '-cf', path.join(dir, 'r.tar'), '.']);
  assert.equal(t.code, 0, t.stderr);
  await ok(a, ['import', path.join(dir, 'r.tar'), 'bigone:1']);
  const ref = `${plain.host}/isola/big:1`;
  await ok(a, ['tag', 'bigone:1', ref]);
  // Chunked above 8 MiB (the default is one request up to 512 MiB): the 12 MiB layer goes up in PATCH chunks.
  const chunked = await isola(a.root, ['push', ref], { env: { ...env(a).env, ISOLA_PUSH_CHUNK_ABOVE: String(8 * 1024 * 1024) } });
  assert.equal(chunked.code, 0, chunked.stderr);
  await ok(b, ['pull', ref]);
  const [ia, ib] = await Promise.all([ok(a, ['images', '--json']), ok(b, ['images', '--json'])]);
  const digestIn = (out: string) => (JSON.parse(out) as { ref: string; digest: string }[]).find((i) => i.ref === ref)?.digest;
  assert.ok(digestIn(ia.stdout));
  assert.equal(digestIn(ia.stdout), digestIn(ib.stdout));
  // b pulled it from isola/big, so pushing it to isola/copy on the same registry mounts the blobs.
  await ok(b, ['tag', ref, `${plain.host}/isola/copy:1`]);
  const mount = await ok(b, ['push', `${plain.host}/isola/copy:1`]);
  assert.match(mount.stderr, /Mounted from isola\/big/);
  assert.doesNotMatch(mount.stderr, /: Pushed/);
  const run = await ok(b, ['run', '--rm', ref, 'sh', '-c', 'wc -c < /random.bin']);
  assert.equal(run.stdout.trim(), String(12 * 1024 * 1024));
});

test('TLS and htpasswd: 401 without a login, unknown CA without --tls-ca, wrong password refused, then login, push, pull, run', async () => {
  const ref = `${secure.host}/private/base:2`;
  await ok(a, ['tag', 'base', ref]);
  const noCa = await fails(a, ['push', ref]);
  assert.match(noCa.stderr, /unknown authority.*--tls-ca FILE/);
  const noLogin = await fails(a, ['push', '--tls-ca', secure.caFile!, ref]);
  assert.match(noLogin.stderr, /401 unauthorized.*isola login 127\.0\.0\.1:\d+/);
  const bad = await isola(a.root, ['login', '--tls-ca', secure.caFile!, '-u', USER.user, '--password-stdin', secure.host], env(a));
  assert.notEqual(bad.code, 0);
  const wrong = await runCmd(process.execPath, ['bin/isola.js', 'login', '--tls-ca', secure.caFile!, '-u', USER.user, '--password-stdin', secure.host], { env: { ...process.env, ISOLA_ROOT: a.root, DOCKER_CONFIG: path.join(a.root, 'docker-config') }, input: 'nope\n' });
  assert.equal(wrong.code, 125);
  assert.match(wrong.stderr, /incorrect username or password/);
  const login = await ok(a, ['login', '--tls-ca', secure.caFile!, '-u', USER.user, '--password-stdin', secure.host], `${USER.password}\n`);
  assert.equal(login.stdout, 'Login Succeeded\n');
  const cfgFile = path.join(a.root, 'docker-config', 'config.json');
  assert.equal(fs.statSync(cfgFile).mode & 0o777, 0o600);
  assert.equal(JSON.parse(fs.readFileSync(cfgFile, 'utf8')).auths[secure.host].auth, Buffer.from(`${USER.user}:${USER.password}`).toString('base64'));
  await ok(a, ['push', '--tls-ca', secure.caFile!, ref]);
  // b logs in through the same file format Docker uses, written by hand as `docker login` would.
  fs.mkdirSync(path.join(b.root, 'docker-config'));
  fs.writeFileSync(path.join(b.root, 'docker-config', 'config.json'), JSON.stringify({ auths: { [secure.host]: { auth: Buffer.from(`${USER.user}:${USER.password}`).toString('base64') } } }));
  await ok(b, ['pull', '--tls-ca', secure.caFile!, ref]);
  assert.equal((await ok(b, ['run', '--rm', ref, 'echo', 'ok'])).stdout, 'ok\n');
  assert.equal((await ok(a, ['logout', secure.host])).stdout, `Removing login credentials for ${secure.host}\n`);
  assert.equal((await ok(a, ['logout', secure.host])).stdout, `Not logged in to ${secure.host}\n`);
  await fails(a, ['pull', '--tls-ca', secure.caFile!, ref]);
});

test('pull errors: no registry host, unknown repository, nothing listening', async () => {
  assert.match((await fails(b, ['pull', 'base'])).stderr, /no default registry/);
  assert.match((await fails(b, ['pull', `${plain.host}/nothing/here:1`])).stderr, /not found on .*manifest unknown/);
  const port = plain.host.split(':')[1];
  await plain.stop();
  assert.match((await fails(b, ['pull', `127.0.0.1:${port}/isola/base:1`])).stderr, /connection refused/);
});
