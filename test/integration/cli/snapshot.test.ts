import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { Engine } from '../../../src/engine/engine.js';
import { measureSnapshotOps } from '../../../src/bench/snapshot-ops.js';
import type { Kind } from '../../../src/core/types.js';
import { openDb } from '../../../src/state/db.js';
import { SnapshotRepo } from '../../../src/state/snapshots.js';
import { assertEngineError } from '../../helpers/engine-error.js';

/**
 * `isola snapshot` and `isola commit` through the real CLI (docs/SNAPSHOTS.md): for each kind, a
 * file written, a snapshot taken (of the running instance, then of the stopped one), the file
 * changed, each snapshot restored and the file read back; bad input refused in one line with
 * nothing changed; commit's image run again; snapshots gone with their instance.
 */
let fx: Fixture;
const cli = (...args: string[]) => isola(fx.root, args, { timeoutMs: 300_000 });

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `isola ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Snap { Name: string; Instance: string; Kind: string; State: string; SizeBytes: number }
const snapshots = async (ref?: string): Promise<Snap[]> => JSON.parse(await ok('snapshot', 'ls', ...(ref ? [ref] : []), '--json')) as Snap[];

/** What the instance's root holds: /data's content and whether /gone still exists. */
const read = async (name: string): Promise<string> => (await ok('exec', name, 'sh', '-c', 'cat /data; test -e /gone && echo gone-present || echo gone-absent')).trim();
const write = (name: string, text: string, deleteGone: boolean) => ok('exec', name, 'sh', '-c', `echo ${text} > /data; ${deleteGone ? 'rm -f /gone;' : ''} sync`);

describe('snapshots and commit through the CLI', () => {
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    const ids = (JSON.parse((await cli('ps', '-a', '--json')).stdout) as { id: string }[]).map((r) => r.id);
    if (ids.length) await cli('rm', '-f', ...ids);
    await fx.dispose();
  });

  for (const kind of ['container', 'vm', 'hybrid'] as Kind[]) {
    test(`${kind}: restore brings back the disk exactly (a live snapshot and a stopped one)`, async () => {
      const name = `s-${kind}`;
      await ok('run', '-d', '--as', kind, '--network', 'none', '--name', name, 'base', 'sleep', '100000');
      await ok('exec', name, 'sh', '-c', 'echo one > /data; echo x > /gone; sync');
      assert.equal(await read(name), 'one\ngone-present');
      // Live: the running instance is held still while its disk or layer is kept.
      assert.equal((await ok('snapshot', 'create', name, 'live')).trim(), 'live');
      assert.equal(await read(name), 'one\ngone-present', 'a snapshot leaves the running instance as it was');
      await write(name, 'two', true);
      await ok('stop', '-t', '2', name);
      await ok('snapshot', 'create', name, 'stopped');
      const listed = await snapshots(name);
      assert.deepEqual(listed.map((s) => [s.Name, s.Instance, s.Kind, s.State]), [['live', name, kind, 'ready'], ['stopped', name, kind, 'ready']]);
      assert.ok(listed.every((s) => s.SizeBytes > 0), 'each snapshot counts the bytes it holds');

      await ok('snapshot', 'restore', name, 'live');
      await ok('start', name);
      assert.equal(await read(name), 'one\ngone-present', 'the live snapshot is back: the old content, and the deleted file');
      await ok('stop', '-t', '2', name);
      await ok('snapshot', 'restore', name, 'stopped');
      await ok('start', name);
      assert.equal(await read(name), 'two\ngone-absent', 'the stopped snapshot is back, deletion included');
      await ok('stop', '-t', '2', name);

      if (kind === 'container') {
        const dir = (JSON.parse(await ok('inspect', name)) as { Id: string }[])[0]?.Id ?? '';
        const df = JSON.parse(await ok('system', 'df', '--json')) as { type: string; count: number; bytes: number }[];
        assert.equal(df.find((r) => r.type === 'snapshots')?.count, 2);
        assert.ok((df.find((r) => r.type === 'snapshots')?.bytes ?? 0) > 0);
        assert.ok(fs.existsSync(path.join(fx.paths.instances, dir, 'snapshots')), 'a container\'s snapshots live in its folder');
      }
      const events = (await ok('events', '--since', '10m', '--until', '0s', '--json', '-f', `container=${name}`)).trim().split('\n').map((l) => (JSON.parse(l) as { Action: string }).Action);
      assert.deepEqual(events.filter((a) => a === 'snapshot' || a === 'restore'), ['snapshot', 'snapshot', 'restore', 'restore']);
      await ok('rm', name);
      assert.deepEqual(await snapshots(), [], 'rm removes the instance\'s snapshots');
      assert.deepEqual(hostLeftovers(fx), []);
    });
  }

  test('bad input: one line, exit 125, nothing changed', async () => {
    await ok('run', '-d', '--network', 'none', '--name', 'a', 'base', 'sleep', '100000');
    await ok('create', '--network', 'none', '--name', 'b', 'base', 'true');
    await ok('exec', 'a', 'sh', '-c', 'echo kept > /data');
    await ok('snapshot', 'create', 'a', 'one');
    await ok('exec', 'a', 'sh', '-c', 'echo changed > /data');
    const before = await snapshots();
    assertEngineError(await cli('snapshot', 'restore', 'b', 'one'), /snapshot one belongs to instance a, not b/);
    assertEngineError(await cli('snapshot', 'restore', 'a', 'nosuch'), /instance a has no snapshot nosuch/);
    assertEngineError(await cli('snapshot', 'create', 'a', 'one'), /instance a already has a snapshot one/);
    assertEngineError(await cli('snapshot', 'restore', 'a', 'one'), /instance a is running: .*stop it first/);
    assertEngineError(await cli('snapshot', 'create', 'ghost'), /no such instance: ghost/);
    assertEngineError(await cli('snapshot', 'create', 'a', 'bad/name'), /unknown option|invalid snapshot name/);
    assertEngineError(await cli('snapshot', 'rm', 'b', 'one'), /belongs to instance a/);
    assert.deepEqual(await snapshots(), before, 'no snapshot was made or removed');
    assert.equal((await ok('exec', 'a', 'cat', '/data')).trim(), 'changed', 'the refused restore changed nothing');
    for (const verb of ['create', 'ls', 'restore', 'rm']) assert.match(await ok('snapshot', verb, '--help'), /Usage: isola snapshot/);
    await ok('rm', '-f', 'a', 'b');
    assert.deepEqual(hostLeftovers(fx), []);
  });

  test('system prune removes a snapshot whose maker died mid-way, and snapshot folders no record names', async () => {
    await ok('create', '--network', 'none', '--name', 'p', 'base', 'true');
    await ok('snapshot', 'create', 'p', 'kept');
    const id = (JSON.parse(await ok('inspect', 'p')) as { Id: string }[])[0]?.Id ?? '';
    const dir = path.join(fx.paths.instances, id, 'snapshots');
    // What a `snapshot create` killed after its row and its first files leaves, and a folder
    // from a crash before any row: made by hand, as no test can kill the CLI at that instant.
    const db = openDb(fx.paths.db);
    try {
      new SnapshotRepo(db).begin({ id: 'c'.repeat(32), instanceId: id, name: 'cut', kind: 'container', createdAt: new Date().toISOString(), owner: { pid: 2 ** 22 + 1, startTime: 1, bootId: 'gone' } });
    } finally {
      db.close();
    }
    fs.mkdirSync(path.join(dir, 'c'.repeat(32), 'upper'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'd'.repeat(32), 'upper'), { recursive: true });
    assert.deepEqual((await snapshots('p')).map((s) => [s.Name, s.State]), [['kept', 'ready'], ['cut', 'creating']]);
    assert.match(await ok('system', 'prune'), /2 orphaned snapshot\(s\)/);
    assert.deepEqual((await snapshots('p')).map((s) => s.Name), ['kept'], 'the ready snapshot stays');
    assert.deepEqual(fs.readdirSync(dir).length, 1);
    await ok('rm', 'p');
    assert.ok(!fs.existsSync(dir));
  });

  test('commit: the writable layer becomes an image that runs again, with the changes and history asked for', async () => {
    await ok('run', '-d', '--network', 'none', '--name', 'c', '-e', 'FROM_RUN=1', 'base', 'sleep', '100000');
    await ok('exec', 'c', 'sh', '-c', 'echo hello from c > /hello; rm /etc/motd 2>/dev/null; mkdir -p /srv/app');
    const before = await ok('images', '--json');
    assertEngineError(await cli('commit', '-c', 'RUN true', 'c', 'bad:1'), /RUN cannot be applied by commit/);
    assert.equal(await ok('images', '--json'), before, 'a refused change stores no image');
    const id = (await ok('commit', '-m', 'first commit', '-a', 'Jane <jane@example.com>', '-c', 'CMD ["cat", "/hello"]', '-c', 'ENV GREETING=hi', '-c', 'WORKDIR /srv/app', 'c', 'committed:1')).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(JSON.parse(await ok('inspect', 'c'))[0].State.Running, true, 'the instance runs on after commit (unpaused)');
    assert.equal((await ok('run', '--rm', '--network', 'none', 'committed:1')).trim(), 'hello from c', 'the new CMD reads the file written before the commit');
    assert.equal((await ok('run', '--rm', '--network', 'none', 'committed:1', 'sh', '-c', 'echo $GREETING $FROM_RUN; pwd')).trim(), 'hi 1\n/srv/app');
    const history = await ok('history', '--no-trunc', 'committed:1');
    assert.match(history, /first commit/);
    assert.match(history, /sleep 100000/);
    await ok('stop', '-t', '1', 'c');
    const id2 = (await ok('commit', 'c')).trim();
    assert.match(id2, /^sha256:/);
    assert.match(await ok('images'), /c-commit/);
    await ok('run', '-d', '--as', 'vm', '--network', 'none', '--name', 'v', 'base', 'sleep', '100000');
    assertEngineError(await cli('commit', 'v', 'vmimage:1'), /keeps its changes as blocks of its VM disk.*isola snapshot create v/);
    await ok('rm', '-f', 'c', 'v');
    assert.deepEqual(hostLeftovers(fx), []);
  });

  test('time to snapshot and to restore, per kind (src/bench/snapshot-ops.ts)', async (t) => {
    const engine = new Engine(fx.config);
    try {
      for (const kind of ['container', 'vm', 'hybrid'] as Kind[]) {
        const name = `m-${kind}`;
        // 64 MiB written, so the figure is that of a layer or disk with something in it.
        await ok('run', '--as', kind, '--network', 'none', '--name', name, 'base', 'sh', '-c', 'dd if=/dev/urandom of=/blob bs=1M count=64 2>/dev/null; sync');
        const m = await measureSnapshotOps(engine, name, 5);
        assert.equal(m.snapshotMs.length, 5);
        assert.ok(m.snapshot.median > 0 && m.restore.median > 0);
        t.diagnostic(`${kind}: snapshot median ${m.snapshot.median.toFixed(1)} ms (p10 ${m.snapshot.p10.toFixed(1)}, p90 ${m.snapshot.p90.toFixed(1)}), restore median ${m.restore.median.toFixed(1)} ms (p10 ${m.restore.p10.toFixed(1)}, p90 ${m.restore.p90.toFixed(1)}), 64 MiB written, n=5`);
        assert.deepEqual(await snapshots(name), [], 'the measurement leaves no snapshot');
        await ok('rm', name);
      }
    } finally {
      engine.close();
    }
  });
});
