import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, REPO, runCmd, type Fixture } from '../../helpers/fixture.js';

const NOBODY = 65534;

/** Files that hold secrets (-e values, the state) or the workload's output: owner-only wherever they are. */
const SECRET = /(^|\/)(isola\.db(-wal|-shm)?|config\.json|initrd\.cpio|container\.log|workload\.log|console\.log|status)$/;

/**
 * The data root after a run of every kind: nobody but root may enter it, and the files that
 * carry the workload's environment or output are owner-only in their own right too.
 */
describe('the data root keeps its secrets', { timeout: 300_000 }, () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture();
    for (const kind of ['container', 'vm', 'hybrid']) {
      const r = await isola(fx.root, ['run', '-d', '--as', kind, '--name', `p-${kind}`, '-e', 'SECRET=hunter2', 'base', 'sleep', '600'], { timeoutMs: 180_000 });
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    for (const kind of ['container', 'vm', 'hybrid']) await isola(fx.root, ['rm', '-f', `p-${kind}`]);
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  test('folders are 0700 down to every instance; secret-bearing files are owner-only', () => {
    const loose: string[] = [];
    const dirs = [fx.root, ...['images', 'instances', 'run', 'cache', 'tmp'].map((d) => path.join(fx.root, d))];
    for (const d of dirs) if ((fs.statSync(d).mode & 0o777) !== 0o700) loose.push(`${d} is ${(fs.statSync(d).mode & 0o777).toString(8)}`);
    for (const d of [...fs.readdirSync(path.join(fx.root, 'instances')).map((i) => path.join(fx.root, 'instances', i)),
      ...fs.readdirSync(path.join(fx.root, 'run')).filter((r) => /^[0-9a-f]{12}$/.test(r)).map((r) => path.join(fx.root, 'run', r))]) {
      if ((fs.statSync(d).mode & 0o077) !== 0) loose.push(`${d} is ${(fs.statSync(d).mode & 0o777).toString(8)}`);
    }
    let secrets = 0;
    const walk = (p: string): void => {
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        // Unpacked image roots keep the image's own modes (and setuid bits): they are judged by
        // the folder around them (cache/ is 0700), not file by file.
        if (p === path.join(fx.root, 'cache') || p.endsWith('/rootfs') || p.endsWith('/upper')) return;
        for (const e of fs.readdirSync(p)) walk(path.join(p, e));
        return;
      }
      if (st.isFile() && SECRET.test(p)) {
        secrets++;
        if ((st.mode & 0o077) !== 0) loose.push(`${path.relative(fx.root, p)} is ${(st.mode & 0o777).toString(8)}`);
      }
    };
    walk(fx.root);
    assert.ok(secrets >= 8, `found ${secrets} secret-bearing files: the walk saw the instances`);
    assert.deepEqual(loose, []);
    assert.equal(fs.statSync(path.join(fx.root, 'cache')).mode & 0o777, 0o700, 'unpacked images sit under a folder no other user can enter');
  });

  test('an unprivileged user gets the one-line error, exit 125, and reads nothing', async () => {
    // nobody runs the real CLI in a fresh process. A checkout under /root (0700) is out of
    // nobody's reach, so a private mount namespace shows it at a folder nobody can reach; the
    // data root keeps its own modes, which is what is under test.
    const view = fs.mkdtempSync('/tmp/isola-view-');
    fs.chmodSync(view, 0o755);
    const asNobody = (verb: string[]) => runCmd('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      'mount --bind "$1" "$2" && shift 2 && exec setpriv --reuid=' + NOBODY + ' --regid=' + NOBODY + ' --clear-groups "$@"',
      'sh', REPO, view, process.execPath, path.join(view, 'bin/isola.js'), ...verb], { env: { ...process.env, ISOLA_ROOT: fx.root } });
    try {
      for (const p of [fx.root, path.join(fx.root, 'isola.db')]) {
        const r = await runCmd('setpriv', ['--reuid=' + NOBODY, '--regid=' + NOBODY, '--clear-groups', 'cat', p]);
        assert.notEqual(r.code, 0, `nobody read ${p}`);
        assert.match(r.stderr, /Permission denied|Is a directory/);
      }
      for (const verb of [['ps'], ['run', '--rm', 'base', 'true'], ['images']]) {
        const r = await asNobody(verb);
        assert.equal(r.code, 125, `${verb.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, '', 'nobody read or listed anything under the data root');
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, /^isola: isola must run as root: .*; run it with sudo, or as root$/m);
      }
    } finally {
      fs.rmdirSync(view);
    }
  });
});
