import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { hostLeftovers, isola, makeFixture, nftObjects, runCmd, type Fixture } from '../../helpers/fixture.js';
import { rawTar } from '../../helpers/raw-tar.js';
import { assertEngineError } from '../../helpers/engine-error.js';

let fx: Fixture;
const cli = (...args: string[]) => isola(fx.root, args);

async function assertNothingLeft(): Promise<void> {
  const ps = JSON.parse((await cli('ps', '-a', '--json')).stdout) as { id: string }[];
  assert.deepEqual(ps, []);
  assert.deepEqual(fs.readdirSync(fx.paths.instances), []);
  assert.deepEqual(hostLeftovers(fx), []);
}

describe('isola CLI with containers', () => {
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await cli('rm', '-f', ...JSON.parse((await cli('ps', '-a', '--json')).stdout).map((r: { id: string }) => r.id)).catch(() => undefined);
    await fx.dispose();
  });

  test('images lists the embedded base image', async () => {
    const r = await cli('images', '--json');
    assert.equal(r.code, 0);
    const list = JSON.parse(r.stdout) as { ref: string; digest: string }[];
    assert.deepEqual(list.map((i) => i.ref), ['base:latest']);
    assert.match((await cli('images')).stdout, /^REPOSITORY\s+TAG/m);
  });

  test('run --rm streams output and exits with the workload\'s status', async () => {
    const ok = await cli('run', '--rm', 'base', 'echo', 'hello');
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, 'hello\n');
    const seven = await cli('run', '--rm', 'base', 'sh', '-c', 'echo out; echo err >&2; exit 7');
    assert.equal(seven.code, 7);
    assert.equal(seven.stdout, 'out\n');
    assert.equal(seven.stderr, 'err\n');
    await assertNothingLeft();
  });

  test('a missing command exits 127, a non-executable one 126, as Docker does', async () => {
    const missing = await cli('run', '--rm', 'base', 'no-such-program');
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /not found/);
    const notExec = await cli('run', '--rm', 'base', '/etc/passwd');
    assert.equal(notExec.code, 126, notExec.stderr);
    await assertNothingLeft();
  });

  test('detached: ps, logs, exec, stats, inspect, stop and rm', async () => {
    const run = await cli('run', '-d', '--name', 'web', '-m', '64m', '--cpus', '0.5', '-e', 'GREETING=hi', 'base', 'sh', '-c', 'while true; do echo $GREETING; sleep 0.2; done');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout.trim(), /^[a-f0-9]{64}$/);
    const ps = JSON.parse((await cli('ps', '--json')).stdout) as { name: string; state: string; kind: string; ip: string }[];
    assert.equal(ps.length, 1);
    assert.equal(ps[0]?.name, 'web');
    assert.equal(ps[0]?.state, 'running');
    assert.equal(ps[0]?.kind, 'container');
    assert.match(ps[0]?.ip ?? '', /^10\.77\./);
    await sleep(700);
    const logs = await cli('logs', 'web');
    assert.match(logs.stdout, /^hi\nhi\n/);
    const exec = await cli('exec', 'web', 'cat', '/etc/hostname');
    assert.equal(exec.code, 0);
    assert.equal(exec.stdout.trim(), run.stdout.trim().slice(0, 12));
    const stats = JSON.parse((await cli('stats', '--no-stream', '--json', 'web')).stdout) as { memoryLimitBytes: number; memoryBytes: number; pids: number }[];
    assert.equal(stats[0]?.memoryLimitBytes, 64 * 1024 * 1024);
    assert.ok((stats[0]?.memoryBytes ?? 0) > 0);
    const inspect = JSON.parse((await cli('inspect', 'web')).stdout) as { HostConfig: { Memory: number; NanoCpus: number }; Config: { Env: string[] }; State: { Running: boolean } }[];
    assert.equal(inspect[0]?.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(inspect[0]?.HostConfig.NanoCpus, 5e8);
    assert.ok(inspect[0]?.Config.Env.includes('GREETING=hi'));
    const stop = await cli('stop', '-t', '1', 'web');
    assert.equal(stop.code, 0, stop.stderr);
    const after = JSON.parse((await cli('ps', '-a', '--json')).stdout) as { state: string; exitCode: number }[];
    assert.equal(after[0]?.state, 'exited');
    assert.equal(after[0]?.exitCode, 137, 'sh as pid 1 ignores SIGTERM, so stop had to kill it');
    assert.equal((await cli('rm', 'web')).code, 0);
    await assertNothingLeft();
  });

  test('logs -f follows until the workload exits', async () => {
    await cli('run', '-d', '--name', 'counter', 'base', 'sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.3; done');
    const f = await cli('logs', '-f', 'counter');
    assert.equal(f.stdout, '1\n2\n3\n');
    await cli('rm', 'counter');
  });

  test('an instance that exits while no isola process watches is recorded with its real status', async () => {
    await cli('run', '-d', '--name', 'quitter', 'base', 'sh', '-c', 'sleep 0.5; exit 5');
    await sleep(2500);
    const ps = JSON.parse((await cli('ps', '-a', '--json')).stdout) as { name: string; state: string; exitCode: number }[];
    assert.deepEqual(ps.map((p) => [p.name, p.state, p.exitCode]), [['quitter', 'exited', 5]]);
    assert.deepEqual(hostLeftovers(fx), [], 'the exit command already released mounts and network');
    await cli('rm', 'quitter');
  });

  test('a monitor killed from outside shows as exited and rm cleans up', async () => {
    assert.equal((await cli('run', '-d', '--name', 'victim', 'base', 'sleep', '600')).code, 0);
    const inspect = JSON.parse((await cli('inspect', 'victim')).stdout) as { Driver: { conmonPid: number; pid: number } }[];
    process.kill(inspect[0]?.Driver.conmonPid ?? 0, 'SIGKILL');
    process.kill(inspect[0]?.Driver.pid ?? 0, 'SIGKILL');
    await sleep(300);
    const ps = JSON.parse((await cli('ps', '-a', '--json')).stdout) as { state: string }[];
    assert.equal(ps[0]?.state, 'exited');
    assert.equal((await cli('rm', 'victim')).code, 0);
    assert.deepEqual(hostLeftovers(fx), []);
    await assertNothingLeft();
  });

  test('an out-of-memory kill is recorded as OOMKilled', async () => {
    const r = await cli('run', '--name', 'hog', '-m', '16m', 'base', 'sh', '-c', 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived');
    assert.equal(r.code, 137, r.stderr);
    const inspect = JSON.parse((await cli('inspect', 'hog')).stdout) as { State: { OOMKilled: boolean; ExitCode: number } }[];
    assert.equal(inspect[0]?.State.OOMKilled, true);
    await cli('rm', 'hog');
  });

  test('parallel runs get distinct names and addresses and keep the state consistent', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => cli('run', '-d', 'base', 'sleep', '600')));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const ps = JSON.parse((await cli('ps', '--json')).stdout) as { id: string; name: string; ip: string }[];
    assert.equal(ps.length, 8);
    assert.equal(new Set(ps.map((p) => p.name)).size, 8);
    assert.equal(new Set(ps.map((p) => p.ip)).size, 8);
    assert.equal((await cli('rm', '-f', ...ps.map((p) => p.id))).code, 0);
    await assertNothingLeft();
  });

  test('-p publishes an instance port on the host until the instance is removed', async () => {
    const r = await cli('run', '-d', '--name', 'pub', '-p', '127.0.0.1:18931:7777', 'base', 'sh', '-c', 'while true; do echo pong | nc -l -p 7777; done');
    assert.equal(r.code, 0, r.stderr);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: 18931 });
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    assert.equal(reply.trim(), 'pong');
    assertEngineError(await cli('run', '-d', '-p', '127.0.0.1:18931:80', 'base', 'true'), /host port 127.0.0.1:18931 is already in use/);
    assertEngineError(await cli('run', '-d', '-p', '99999:80', 'base', 'true'), /invalid host port "99999"/);
    assert.ok(nftObjects().some((o) => o.includes('127.0.0.1:18931')), 'a DNAT rule publishes it');
    assert.equal((await cli('rm', '-f', 'pub')).code, 0);
    assert.ok(!nftObjects().some((o) => o.includes('127.0.0.1:18931')), 'the rule is gone with the instance');
    const refused = await new Promise<boolean>((resolve) => net.connect({ host: '127.0.0.1', port: 18931 }).once('connect', () => resolve(false)).once('error', () => resolve(true)));
    assert.ok(refused, 'nothing answers on the port any more');
    await assertNothingLeft();
  });

  test('import makes a rootfs tarball into an image that runs; rmi removes it', async () => {
    const tarFile = path.join(fx.root, 'rootfs.tar.gz');
    await runCmd('tar', ['-czf', tarFile, '-C', path.join(fx.paths.cache, 'rootfs', fx.base.digest.slice(7)), '.']);
    const imp = await cli('import', tarFile, 'myimage:1');
    assert.equal(imp.code, 0, imp.stderr);
    const r = await cli('run', '--rm', 'myimage:1', 'cat', '/etc/os-release');
    assert.match(r.stdout, /isola base/);
    assert.equal((await cli('rmi', 'myimage:1')).code, 0);
    assert.ok(!(await cli('images')).stdout.includes('myimage'));
  });

  test('system df counts images, caches and instances; system prune removes exited instances', async () => {
    assert.equal((await cli('run', '--name', 'done', 'base', 'true')).code, 0);
    const df = JSON.parse((await cli('system', 'df', '--json')).stdout) as { type: string; count: number; bytes: number }[];
    assert.equal(df.find((r) => r.type === 'images')?.count, 1);
    assert.ok((df.find((r) => r.type === 'image caches')?.bytes ?? 0) > 1_000_000, 'the unpacked base image is counted in allocated bytes');
    assert.equal(df.find((r) => r.type === 'instances')?.count, 1);
    const prune = await cli('system', 'prune');
    assert.match(prune.stdout, /removed 1 exited instance/);
    await assertNothingLeft();
  });

  describe('bad input: one line, exit 125, nothing left behind', () => {
    test('unknown image', async () => {
      assertEngineError(await cli('run', '--rm', 'nosuch:1', 'true'), /image "nosuch:1" not found/);
      await assertNothingLeft();
    });
    test('unknown instance', async () => {
      for (const verb of [['stop', 'ghost'], ['rm', 'ghost'], ['logs', 'ghost'], ['exec', 'ghost', 'true'], ['inspect', 'ghost']]) {
        assertEngineError(await cli(...verb), /no such instance: ghost/);
      }
    });
    test('duplicate name', async () => {
      assert.equal((await cli('run', '-d', '--name', 'dup', 'base', 'sleep', '600')).code, 0);
      assertEngineError(await cli('run', '-d', '--name', 'dup', 'base', 'sleep', '600'), /name "dup" is already in use/);
      const ps = JSON.parse((await cli('ps', '-a', '--json')).stdout) as unknown[];
      assert.equal(ps.length, 1);
      await cli('rm', '-f', 'dup');
      await assertNothingLeft();
    });
    test('malformed memory size and zero CPUs', async () => {
      assertEngineError(await cli('run', '--rm', '-m', '12q', 'base', 'true'), /invalid --memory "12q"/);
      assertEngineError(await cli('run', '--rm', '--cpus', '0', 'base', 'true'), /invalid --cpus "0"/);
      await assertNothingLeft();
    });
    test('a missing runtime binary', async () => {
      const r = await isola(fx.root, ['run', '--rm', '--runtime', 'runc', 'base', 'true'], { env: { ISOLA_RUNC: '/nonexistent/runc' } });
      assertEngineError(r, /runtime runc cannot run containers here: runc is not installed/);
      const gvisor = await cli('run', '--rm', '--runtime', 'runsc', 'base', 'true');
      assertEngineError(gvisor, /runsc/);
      await assertNothingLeft();
    });
    test('a rootfs tarball with escaping entries is refused and stores nothing', async () => {
      const evil = path.join(fx.root, 'evil.tar.gz');
      fs.writeFileSync(evil, zlib.gzipSync(rawTar([{ path: 'ok', body: 'x' }, { path: '../../escaped', body: 'pwned' }])));
      const blobs = fs.readdirSync(path.join(fx.paths.images, 'blobs/sha256')).length;
      assertEngineError(await cli('import', evil, 'evil:1'), /refused layer entry "\.\.\/\.\.\/escaped"/);
      assert.equal(fs.readdirSync(path.join(fx.paths.images, 'blobs/sha256')).length, blobs);
      assert.ok(!(await cli('images')).stdout.includes('evil'));
      assert.equal(fs.existsSync(path.join(path.dirname(fx.root), 'escaped')), false);
    });
    test('a corrupted blob', async () => {
      const root2 = await makeFixture();
      try {
        const manifest = JSON.parse(fs.readFileSync(root2.store.blobPath(root2.base.digest), 'utf8'));
        fs.appendFileSync(root2.store.blobPath(manifest.config.digest), 'x');
        const r = await isola(root2.root, ['run', '--rm', 'base', 'true']);
        assertEngineError(r, /does not match its digest/);
      } finally {
        await root2.dispose();
      }
    });
    test('an unknown flag', async () => {
      const r = await cli('run', '--bogus', 'base');
      assert.equal(r.code, 125);
      assert.match(r.stderr, /unknown option '--bogus'/);
    });
  });
});
