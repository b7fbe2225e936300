import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, hostLeftovers, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { DOCKER, dockerCli, startServe, type DockerCli, type Served } from '../../helpers/serve.js';

/**
 * `docker export` (GET /containers/{id}/export) with the real docker CLI against `isola serve`:
 * the tar holds the image's files with the container's changes (a new file, a deleted one, no
 * overlay markers), running and stopped; a VM is refused in one line; nothing is left mounted.
 */
let fx: Fixture;
let served: Served;
let sock: string;
let cli: DockerCli;
const docker = (args: string[], timeoutMs = 120_000) => cli.run(args, { timeoutMs });
const ok = (args: string[]) => cli.ok(args);

/** The names in a tar file, as GNU tar lists them. */
async function names(file: string): Promise<string[]> {
  const r = await runCmd('tar', ['-tf', file], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

async function member(file: string, name: string): Promise<string> {
  const r = await runCmd('tar', ['-xOf', file, name], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function mounts(): string[] {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(fx.root));
}

before(async () => {
  fx = await makeFixture();
  served = await startServe(fx.root);
  sock = served.sock;
  cli = dockerCli(fx.root, served);
});

after(async () => {
  await served?.stop();
  await fx?.dispose();
});

test('docker export of a container: its files with its changes, running and stopped', async () => {
  const mountsBefore = mounts().length;
  await ok(['run', '-d', '--name', 'ex', 'base', 'sh', '-c', 'mkdir -p /data && echo written-in-the-container > /data/note.txt && rm /etc/os-release && sleep 600']);
  for (let i = 0; i < 50; i++) {
    const r = await docker(['exec', 'ex', 'cat', '/data/note.txt']);
    if (r.code === 0) break;
    await sleep(100);
  }
  const running = path.join(fx.root, 'running.tar');
  await ok(['export', '-o', running, 'ex']);
  const list = await names(running);
  assert.ok(list.includes('data/note.txt'), `data/note.txt is in the export: ${list.slice(0, 40).join(' ')}`);
  assert.equal(await member(running, 'data/note.txt'), 'written-in-the-container\n');
  assert.ok(list.includes('bin/busybox'), 'the image\'s files are in it');
  assert.match(await member(running, 'etc/passwd'), /^root:x:0:0:/);
  assert.ok(!list.includes('etc/os-release'), 'a file the container deleted is not in it');
  assert.ok(!list.some((n) => n.includes('.wh.')), 'no whiteout markers');
  assert.ok(!list.includes('sbin/docker-init'), 'isola\'s init is not in it');
  assert.ok(!list.some((n) => n.startsWith('proc/') && n !== 'proc/'), 'no /proc contents');

  await ok(['stop', '-t', '1', 'ex']);
  const stopped = path.join(fx.root, 'stopped.tar');
  // To stdout, as `docker export ex > file` uses it.
  const r = await runCmd('sh', ['-c', `${DOCKER} export ex > ${stopped}`], {
    env: { PATH: process.env.PATH, HOME: fx.root, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(fx.root, 'docker-cli') }, timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await member(stopped, 'data/note.txt'), 'written-in-the-container\n');
  assert.equal(mounts().length, mountsBefore, 'no mount is left on the host');
  const scratch = await runCmd('find', [fx.root, '-name', 'export-*'], { timeoutMs: 30_000 });
  assert.equal(scratch.stdout, '', 'no mount point is left in the instance\'s folder');
  // The CLI's own: isola export --format tar, to a file that appears whole, and to stdout.
  const cli = path.join(fx.root, 'cli.tar');
  const c = await isola(fx.root, ['export', '--format', 'tar', '-o', cli, 'ex']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(await member(cli, 'data/note.txt'), 'written-in-the-container\n');
  assert.deepEqual(fs.readdirSync(fx.root).filter((n) => n.includes('.part-')), []);
  const piped = await runCmd('sh', ['-c', `${process.execPath} -- ${BIN} export --format tar -o - ex | tar -xOf - data/note.txt`], { env: { ...process.env, ISOLA_ROOT: fx.root }, timeoutMs: 60_000 });
  assert.equal(piped.stdout, 'written-in-the-container\n', piped.stderr);
  const bad = await isola(fx.root, ['export', '--format', 'tar', '-o', cli, 'ex', 'echo']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /--format tar writes an instance's files, it runs no command/);
  await ok(['rm', '-f', 'ex']);
});

test('docker export of a missing container: 404 in one line; of a VM: refused in one line with the reason', async () => {
  const missing = await docker(['export', '-o', path.join(fx.root, 'x.tar'), 'nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such container: nosuch/);
  await ok(['create', '--name', 'exvm', '--runtime', 'vm', 'base', 'true']);
  const out = path.join(fx.root, 'vm.tar');
  const r = await docker(['export', '-o', out, 'exvm']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /inside its VM's disk, which isola does not mount on the host.*isola cp exvm:\/PATH/);
  const cli = await isola(fx.root, ['export', '--format', 'tar', '-o', out, 'exvm']);
  assert.equal(cli.code, 125);
  assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
  assert.match(cli.stderr, /inside its VM's disk/);
  assert.ok(!fs.existsSync(out), 'no file is left');
  assert.deepEqual(fs.readdirSync(fx.root).filter((n) => n.includes('.part-')), []);
  await ok(['rm', '-f', 'exvm']);
  assert.deepEqual(hostLeftovers(fx), []);
});
