import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, hostLeftovers, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { dockerCli, startServe, type DockerCli, type Served } from '../../helpers/serve.js';
import { freePort, startRegistry, type TestRegistry } from '../../helpers/registry.js';

/**
 * The real `docker` CLI (28.x) against `isola serve` on a socket of the test's own: a scripted
 * session of what people type, each step's exit status and output checked. The server is the
 * real verb in its own process; the instances it starts are the real kinds.
 */
let fx: Fixture;
let reg: TestRegistry;
let served: Served;
let cli: DockerCli;
const docker = (args: string[], opts?: { timeoutMs?: number; input?: string }) => cli.run(args, opts);
const ok = (args: string[], opts?: { timeoutMs?: number; input?: string }) => cli.ok(args, opts);

function get(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let s = '';
      res.on('data', (d: Buffer) => (s += d.toString()));
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
}

before(async () => {
  [fx, reg] = await Promise.all([makeFixture(), startRegistry()]);
  served = await startServe(fx.root);
  cli = dockerCli(fx.root, served);
});

after(async () => {
  await served?.stop();
  await reg?.stop();
  await fx?.dispose();
});

test('docker version and info: the server is isola, and the runtimes are the kinds', async () => {
  const v = await ok(['version']);
  assert.match(v.stdout, /Server: isola/);
  assert.match(v.stdout, /API version:\s+1\.43/);
  const i = await ok(['info']);
  // The CLI prints them in its map's (random) order.
  assert.deepEqual(/Runtimes: (.*)/.exec(i.stdout)?.[1]?.split(' ').sort(), ['container', 'hybrid', 'runc', 'vm']);
  assert.match(i.stdout, /Default Runtime: container/);
});

test('docker run --rm: output, exit status, and nothing left', async () => {
  const r = await ok(['run', '--rm', 'base', 'echo', 'hi']);
  assert.equal(r.stdout, 'hi\n');
  const f = await docker(['run', '--rm', 'base', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(f.code, 3, f.stderr);
  assert.equal(f.stdout, 'out\n');
  assert.equal(f.stderr, 'err\n');
  const ps = await ok(['ps', '-a', '-q']);
  assert.equal(ps.stdout, '', 'the --rm instances are gone');
  const missing = await docker(['run', '--rm', 'base', 'no-such-command']);
  assert.equal(missing.code, 127, missing.stderr);
});

test('docker run -d -p, ps, logs, exec, top, stats, cp, stop, rm', async () => {
  try {
    await webSession();
  } finally {
    await docker(['rm', '-f', 'web']); // after a failure: the later tests check for leftovers
  }
  assert.deepEqual(hostLeftovers(fx), []);
});

async function webSession(): Promise<void> {
  const port = await freePort();
  const id = (await ok(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:8080`, 'base', 'sh', '-c', 'echo started; echo to-stderr >&2; exec httpd -f -p 8080 -h /etc'])).stdout.trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  let body = '';
  for (let i = 0; i < 50 && !body; i++) {
    body = await get(port, '/hostname').catch(() => '');
    if (!body) await sleep(200);
  }
  assert.equal(body.trim(), id.slice(0, 12), 'the published port reaches the instance');
  const ps = await ok(['ps']);
  assert.match(ps.stdout, /web/);
  assert.match(ps.stdout, /Up /);
  assert.match(ps.stdout, new RegExp(`127\\.0\\.0\\.1:${port}->8080/tcp`));
  const logs = await ok(['logs', 'web']);
  assert.equal(logs.stdout, 'started\n');
  assert.equal(logs.stderr, 'to-stderr\n');
  const tail = await ok(['logs', '--tail', '1', '-t', 'web']);
  assert.match(tail.stdout + tail.stderr, /^\d{4}-\d\d-\d\dT\S+ to-stderr\n$/);
  const ex = await ok(['exec', 'web', 'cat', '/etc/hostname']);
  assert.equal(ex.stdout.trim(), id.slice(0, 12));
  const exit7 = await docker(['exec', 'web', 'sh', '-c', 'exit 7']);
  assert.equal(exit7.code, 7);
  const stdin = await ok(['exec', '-i', 'web', 'sh', '-c', 'tr a-z A-Z'], { input: 'piped in\n' });
  assert.equal(stdin.stdout, 'PIPED IN\n');
  await ok(['update', '--memory', '128m', '--restart', 'on-failure:2', 'web']);
  const upd = JSON.parse((await ok(['inspect', 'web'])).stdout) as { HostConfig: { Memory: number; RestartPolicy: { Name: string; MaximumRetryCount: number } } }[];
  assert.equal(upd[0]?.HostConfig.Memory, 128 * 1024 * 1024);
  assert.deepEqual(upd[0]?.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  const top = await ok(['top', 'web']);
  assert.match(top.stdout, /httpd/);
  const stats = await ok(['stats', '--no-stream', 'web']);
  assert.match(stats.stdout, /web\s+\d+\.\d+%\s+[\d.]+[KMG]iB \/ [\d.]+[KMG]iB/);
  // docker cp both ways
  const src = path.join(fx.root, 'in.txt');
  fs.writeFileSync(src, 'copied in\n');
  await ok(['cp', src, 'web:/tmp/']);
  assert.equal((await ok(['exec', 'web', 'cat', '/tmp/in.txt'])).stdout, 'copied in\n');
  const out = path.join(fx.root, 'out.txt');
  await ok(['cp', 'web:/tmp/in.txt', out]);
  assert.equal(fs.readFileSync(out, 'utf8'), 'copied in\n');
  // logs -f follows until the instance stops, then returns by itself
  const following = docker(['logs', '-f', 'web'], { timeoutMs: 60_000 });
  await sleep(1000);
  const stop = await ok(['stop', '-t', '2', 'web']);
  const followed = await following;
  assert.equal(followed.code, 0, followed.stderr);
  assert.equal(followed.stdout, 'started\n');
  assert.equal(stop.stdout.trim(), 'web');
  const after = await ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
  assert.match(after.stdout, /^web Exited \(\d+\)/m);
  const inspect = JSON.parse((await ok(['inspect', 'web'])).stdout) as { State: { Status: string }; HostConfig: { Runtime: string } }[];
  assert.equal(inspect[0]?.State.Status, 'exited');
  assert.equal(inspect[0]?.HostConfig.Runtime, 'container');
  await ok(['rm', 'web']);
  const gone = await docker(['rm', 'web']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /No such container: web/);
}

test('docker run -i passes stdin; pause, unpause, rename, restart, kill, wait', async () => {
  const piped = await ok(['run', '-i', '--rm', 'base', 'sh', '-c', 'tr a-z A-Z; echo done >&2'], { input: 'piped in\n' });
  assert.equal(piped.stdout, 'PIPED IN\n');
  assert.equal(piped.stderr, 'done\n');
  await ok(['run', '-d', '--name', 'life', 'base', 'sleep', '300']);
  try {
    await ok(['pause', 'life']);
    assert.match((await ok(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout, /^life Up .*\(Paused\)$/m);
    await ok(['unpause', 'life']);
    await ok(['rename', 'life', 'life2']);
    await ok(['restart', '-t', '1', 'life2']);
    assert.match((await ok(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout, /^life2 Up /m);
    const waiting = docker(['wait', 'life2']);
    await sleep(500);
    await ok(['kill', 'life2']);
    const w = await waiting;
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), '137');
    const again = await docker(['kill', 'life2']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not running/);
  } finally {
    await docker(['rm', '-f', 'life', 'life2']);
  }
  assert.deepEqual(hostLeftovers(fx), []);
});

test('docker images, tag, push to a registry, rmi, pull, and run what was pulled', async () => {
  const images = await ok(['images']);
  assert.match(images.stdout, /^base\s+latest\s+/m);
  const ref = `${reg.host}/isola/api:1`;
  await ok(['tag', 'base', ref]);
  const push = await ok(['push', ref]);
  assert.match(push.stdout, /1: digest: sha256:[a-f0-9]{64} size: \d+/);
  const rmi = await ok(['rmi', ref]);
  assert.match(rmi.stdout, new RegExp(`Untagged: ${ref.replace(/[.]/g, '\\.')}`));
  const pull = await ok(['pull', ref]);
  assert.match(pull.stdout, /Digest: sha256:[a-f0-9]{64}/);
  assert.match(pull.stdout, /Downloaded newer image|Image is up to date/);
  assert.equal((await ok(['run', '--rm', ref, 'echo', 'pulled'])).stdout, 'pulled\n');
  const nope = await docker(['pull', `${reg.host}/isola/nope:1`]);
  assert.notEqual(nope.code, 0);
  const hub = await docker(['pull', 'nginx']);
  assert.equal(hub.code, 1);
  assert.match(hub.stderr, /no default registry/);
  // save and load through the API (the CLI writes the local name as docker.io/library/NAME)
  await ok(['tag', 'base', 'saved:1']);
  const tar = path.join(fx.root, 'saved.tar');
  await ok(['save', '-o', tar, 'saved:1']);
  await ok(['rmi', 'saved:1']);
  assert.match((await ok(['load', '-i', tar])).stdout, /Loaded image: saved:1/);
  assert.equal((await ok(['run', '--rm', 'saved:1', 'echo', 'loaded'])).stdout, 'loaded\n');
});

test('docker build: a tar context through POST /build, a RUN step, a cached rebuild, and a failing step', async () => {
  const ctx = path.join(fx.root, 'build-ctx');
  fs.mkdirSync(ctx);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM base\nARG WHO=nobody\nCOPY greeting.txt /greeting.txt\nRUN echo "built for $WHO" > /built\nCMD ["sh", "-c", "cat /greeting.txt /built"]\n');
  fs.writeFileSync(path.join(ctx, 'greeting.txt'), 'hello from the context\n');
  const b = await ok(['build', '-t', 'built:1', '--build-arg', 'WHO=api', ctx], { timeoutMs: 180_000 });
  assert.match(b.stdout, /Successfully built [a-f0-9]{12}\n/);
  assert.match(b.stdout, /Successfully tagged built:1\n/);
  assert.equal((await ok(['run', '--rm', 'built:1'])).stdout, 'hello from the context\nbuilt for api\n');
  const again = await ok(['build', '-q', '-t', 'built:1', '--build-arg', 'WHO=api', ctx]);
  assert.match(again.stdout, /^sha256:[a-f0-9]{64}\n$/);
  fs.writeFileSync(path.join(ctx, 'Dockerfile.bad'), 'FROM base\nRUN echo failing; exit 3\n');
  const bad = await docker(['build', '-f', path.join(ctx, 'Dockerfile.bad'), ctx]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout + bad.stderr, /failing/);
  assert.match(bad.stderr, /exit (code|status):? 3|returned a non-zero code: 3|exited with 3/);
  await ok(['rmi', 'built:1']);
  assert.deepEqual(hostLeftovers(fx), []);
});

test('docker run --runtime vm and hybrid: the same command in a VM, and in a container in a VM', async () => {
  const r = await ok(['run', '--runtime', 'vm', '--rm', 'base', 'sh', '-c', 'echo hi from $(uname -r)'], { timeoutMs: 180_000 });
  assert.match(r.stdout, /^hi from \S+-(cloud-amd64|isola)\n$/);
  const hybrid = await ok(['run', '--runtime', 'hybrid', '--rm', 'base', 'echo', 'hi from hybrid'], { timeoutMs: 180_000 });
  assert.equal(hybrid.stdout, 'hi from hybrid\n');
  const bad = await docker(['run', '--runtime', 'kata', '--rm', 'base', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unknown runtime specified kata/);
  assert.deepEqual(hostLeftovers(fx), []);
});

test('the CLI sees what docker made, and docker sees what the CLI made', async () => {
  await ok(['volume', 'create', 'shared']);
  const env = { ...process.env, ISOLA_ROOT: fx.root };
  const ls = await runCmd(process.execPath, ['--', BIN, 'volume', 'ls'], { env });
  assert.match(ls.stdout, /shared/);
  const made = await runCmd(process.execPath, ['--', BIN, 'network', 'create', 'apinet'], { env });
  assert.equal(made.code, 0, made.stderr);
  assert.match((await ok(['network', 'ls'])).stdout, /apinet/);
  await ok(['network', 'rm', 'apinet']);
  await ok(['volume', 'rm', 'shared']);
  assert.doesNotMatch((await ok(['volume', 'ls'])).stdout, /shared/);
});

test('docker commit: a container\'s changes become an image that docker runs again', async () => {
  await ok(['run', '-d', '--name', 'tocommit', 'base', 'sleep', '100000']);
  await ok(['exec', 'tocommit', 'sh', '-c', 'echo committed by docker > /note']);
  const id = (await ok(['commit', '-m', 'via the API', '-c', 'CMD ["cat", "/note"]', '-c', 'ENV VIA=api', 'tocommit', 'dcommit:1'])).stdout.trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal((await ok(['run', '--rm', 'dcommit:1'])).stdout, 'committed by docker\n');
  assert.equal((await ok(['run', '--rm', 'dcommit:1', 'sh', '-c', 'echo $VIA'])).stdout, 'api\n');
  const bad = await docker(['commit', '-c', 'RUN true', 'tocommit', 'dcommit:2']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /RUN cannot be applied by commit/);
  await ok(['rm', '-f', 'tocommit']);
  await ok(['rmi', 'dcommit:1']);
  assert.deepEqual(hostLeftovers(fx), []);
});
