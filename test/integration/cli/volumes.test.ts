import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, hostLeftovers, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { assertEngineError } from '../../helpers/engine-error.js';

/**
 * Volumes, shared folders and isola cp through the real CLI: what Docker users type, the
 * lifecycle of named and anonymous volumes, docker cp's rules, and every bad input refused in
 * one line with nothing half-made.
 */
let fx: Fixture;
let host: string;
const cli = (...args: string[]) => isola(fx.root, args, { timeoutMs: 180_000 });

async function volumes(): Promise<{ Name: string; Anonymous: boolean; UsedBy: string[] }[]> {
  return JSON.parse((await cli('volume', 'ls', '--json')).stdout) as { Name: string; Anonymous: boolean; UsedBy: string[] }[];
}

async function assertNothingLeft(): Promise<void> {
  assert.deepEqual(JSON.parse((await cli('ps', '-a', '--json')).stdout), []);
  assert.deepEqual(fs.readdirSync(fx.paths.instances), []);
  assert.deepEqual(hostLeftovers(fx), []);
}

describe('volumes, shared folders and cp through the CLI', () => {
  before(async () => {
    fx = await makeFixture();
    host = path.join(fx.root, 'host');
    fs.mkdirSync(host);
  });
  after(async () => {
    const ps = JSON.parse((await cli('ps', '-a', '--json')).stdout) as { id: string }[];
    if (ps.length) await cli('rm', '-f', ...ps.map((r) => r.id));
    await fx.dispose();
  });

  test('a named volume is made on first use, outlives rm, and the next run attaches it again', async () => {
    const w = await cli('run', '--name', 'writer', '-v', 'appdata:/var/lib/app', 'base', 'sh', '-c', 'echo generation-1 > /var/lib/app/state');
    assert.equal(w.code, 0, w.stderr);
    let list = await volumes();
    assert.deepEqual(list.map((v) => [v.Name, v.Anonymous, v.UsedBy]), [['appdata', false, ['writer']]]);
    assertEngineError(await cli('volume', 'rm', 'appdata'), /volume appdata is in use by instance writer; remove it first/);
    assert.equal((await cli('rm', 'writer')).code, 0);
    const r = await cli('run', '--rm', '-v', 'appdata:/data:ro', 'base', 'cat', '/data/state');
    assert.equal(r.stdout, 'generation-1\n');
    const doc = JSON.parse((await cli('volume', 'inspect', '--json', 'appdata')).stdout) as { Mountpoint: string; UsedBy: string[]; Driver: string }[];
    assert.equal(doc[0]?.Mountpoint, path.join(fx.root, 'volumes', 'appdata', '_data'));
    assert.equal(fs.readFileSync(path.join(doc[0]?.Mountpoint ?? '', 'state'), 'utf8'), 'generation-1\n');
    assert.deepEqual(doc[0]?.UsedBy, []);
    assert.match((await cli('volume', 'inspect', 'appdata')).stdout, /^Name:\s+appdata$/m);
    assert.equal((await cli('volume', 'rm', 'appdata')).code, 0);
    list = await volumes();
    assert.deepEqual(list, []);
    assert.equal(fs.existsSync(path.join(fx.root, 'volumes', 'appdata')), false);
    await assertNothingLeft();
  });

  test('anonymous volumes: rm keeps them, rm -v removes them, run --rm removes them; prune takes unused ones', async () => {
    await cli('volume', 'create', '--label', 'team=web', 'named1');
    assert.equal((await cli('run', '--name', 'a1', '-v', '/cache', '-v', 'named1:/n', 'base', 'true')).code, 0);
    assert.equal((await cli('run', '--name', 'a2', '--mount', 'type=volume,target=/cache', 'base', 'true')).code, 0);
    const anon = (await volumes()).filter((v) => v.Anonymous);
    assert.equal(anon.length, 2);
    assert.equal((await cli('rm', '-v', 'a1')).code, 0);
    assert.deepEqual((await volumes()).map((v) => v.Name).sort(), [anon.find((v) => v.UsedBy[0] === 'a2')?.Name, 'named1'].sort(), 'rm -v removed a1\'s anonymous volume, not the named one');
    assert.equal((await cli('rm', 'a2')).code, 0);
    assert.equal((await cli('run', '--rm', '-v', '/tmpdata', 'base', 'true')).code, 0);
    assert.equal((await volumes()).length, 2, 'run --rm took its anonymous volume with it');
    const pruned = await cli('volume', 'prune');
    assert.match(pruned.stdout, /removed 1 volume\(s\)/);
    assert.deepEqual((await volumes()).map((v) => v.Name), ['named1']);
    assert.match((await cli('volume', 'prune', '--all')).stdout, /removed 1 volume\(s\)/);
    await assertNothingLeft();
  });

  test('-v makes a missing host folder (as Docker does) and records a symlinked host path as its real path', async () => {
    const missing = path.join(host, 'made', 'by', 'run');
    const r = await cli('run', '--rm', '-v', `${missing}:/out`, 'base', 'sh', '-c', 'echo hi > /out/f');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(missing, 'f'), 'utf8'), 'hi\n');
    fs.mkdirSync(path.join(host, 'real'));
    fs.symlinkSync('real', path.join(host, 'alias'));
    assert.equal((await cli('create', '--name', 'sym', '-v', `${host}/alias:/x`, 'base', 'true')).code, 0);
    const doc = JSON.parse((await cli('inspect', 'sym')).stdout) as { Mounts: { Source: string; Destination: string; RW: boolean }[] }[];
    assert.deepEqual(doc[0]?.Mounts, [{ Type: 'bind', Source: path.join(fs.realpathSync(host), 'real'), Destination: '/x', RW: true, Propagation: 'rprivate' }]);
    await cli('rm', 'sym');
    await assertNothingLeft();
  });

  test('bind propagation: rslave sees a mount made on the host afterwards, the default rprivate does not', async () => {
    const shared = path.join(host, 'shared');
    fs.mkdirSync(path.join(shared, 'sub'), { recursive: true });
    const sh = (c: string) => runCmd('sh', ['-c', c]);
    assert.equal((await sh(`mount --bind ${shared} ${shared} && mount --make-shared ${shared}`)).code, 0);
    try {
      assert.equal((await cli('run', '-d', '--name', 'slave', '-v', `${shared}:/p:rslave`, 'base', 'sleep', '600')).code, 0);
      assert.equal((await cli('run', '-d', '--name', 'private', '--mount', `type=bind,source=${shared},target=/p`, 'base', 'sleep', '600')).code, 0);
      assert.equal((await sh(`mount -t tmpfs -o size=1m later ${shared}/sub`)).code, 0);
      const seen = async (n: string) => (await cli('exec', n, 'sh', '-c', 'grep -c " /p/sub " /proc/mounts || true')).stdout.trim();
      assert.equal(await seen('slave'), '1');
      assert.equal(await seen('private'), '0');
    } finally {
      await cli('rm', '-f', 'slave', 'private');
      await sh(`umount ${shared}/sub; umount ${shared}`);
    }
    await assertNothingLeft();
  });

  test('tmpfs from --tmpfs and --mount type=tmpfs', async () => {
    const r = await cli('run', '--rm', '--tmpfs', '/t1:size=1m', '--mount', 'type=tmpfs,target=/t2,tmpfs-mode=700', 'base', 'sh', '-c', 'grep -E " /t[12] " /proc/mounts | cut -d" " -f1-4');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').sort();
    assert.match(lines[0] ?? '', /^tmpfs \/t1 tmpfs rw,nosuid,nodev,noexec,.*size=1024k/);
    assert.match(lines[1] ?? '', /^tmpfs \/t2 tmpfs rw,nosuid,nodev,.*mode=700/);
  });

  test('cp follows docker cp\'s rules: into a folder, onto a new name, contents with /., owners with -a, links with -L, tar on stdio', async () => {
    const src = path.join(host, 'cpsrc');
    fs.mkdirSync(path.join(src, 'dir', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'dir', 'f'), 'file-content\n');
    fs.chownSync(path.join(src, 'dir', 'f'), 1500, 1600);
    fs.chmodSync(path.join(src, 'dir', 'f'), 0o640);
    fs.symlinkSync('dir/f', path.join(src, 'link'));
    assert.equal((await cli('run', '-d', '--name', 'cpc', 'base', 'sleep', '600')).code, 0);
    try {
      await cpRules(src);
    } finally {
      await cli('rm', '-f', 'cpc');
    }
    assertEngineError(await cli('cp', path.join(src, 'dir'), 'cpc:/tmp'), /no such instance: cpc/);
    await assertNothingLeft();
  });

  async function cpRules(src: string): Promise<void> {
    const sh = async (script: string) => (await cli('exec', 'cpc', 'sh', '-c', script)).stdout.trim();
    // host -> instance
    assert.equal((await cli('cp', path.join(src, 'dir'), 'cpc:/tmp')).code, 0);
    assert.equal(await sh('cat /tmp/dir/f; stat -c "%u:%g %a" /tmp/dir/f'), 'file-content\n0:0 640', 'into an existing folder; owned by root without -a, the mode kept');
    assert.equal((await cli('cp', '-a', path.join(src, 'dir'), 'cpc:/tmp/renamed')).code, 0);
    assert.equal(await sh('stat -c "%u:%g %a" /tmp/renamed/f; ls /tmp/renamed'), '1500:1600 640\nf\nsub', 'onto a new name; owners kept with -a');
    assert.equal((await cli('cp', `${path.join(src, 'dir')}/.`, 'cpc:/tmp/contents')).code, 0);
    assert.equal(await sh('ls /tmp/contents'), 'f\nsub', 'SRC/. onto a new name: the folder\'s contents');
    assert.equal((await cli('cp', `${path.join(src, 'dir')}/.`, 'cpc:/tmp/contents')).code, 0);
    assert.equal(await sh('ls /tmp/contents'), 'f\nsub', 'SRC/. into an existing folder: the contents again, not the folder');
    assert.equal((await cli('cp', path.join(src, 'link'), 'cpc:/tmp/')).code, 0);
    assert.equal(await sh('readlink /tmp/link'), 'dir/f', 'a link is copied as a link');
    assert.equal((await cli('cp', '-L', path.join(src, 'link'), 'cpc:/tmp/followed')).code, 0);
    assert.equal(await sh('cat /tmp/followed'), 'file-content', '-L copies what it points at');
    assertEngineError(await cli('cp', path.join(src, 'dir'), 'cpc:/etc/hostname'), /cannot copy the folder .* onto the file \/etc\/hostname/);
    assertEngineError(await cli('cp', path.join(src, 'dir'), 'cpc:/no/such/place'), /no such folder in cpc: \/no\/such/);
    assertEngineError(await cli('cp', path.join(src, 'absent'), 'cpc:/tmp'), /no such file or folder: /);
    // instance -> host
    const out = path.join(host, 'cpout');
    fs.mkdirSync(out);
    assert.equal((await cli('cp', 'cpc:/tmp/renamed', out)).code, 0);
    assert.equal(fs.readFileSync(path.join(out, 'renamed', 'f'), 'utf8'), 'file-content\n');
    assert.equal(fs.statSync(path.join(out, 'renamed', 'f')).uid, 0, 'root\'s without -a');
    assert.equal((await cli('cp', '-a', 'cpc:/tmp/renamed/f', path.join(out, 'single'))).code, 0);
    const st = fs.statSync(path.join(out, 'single'));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [1500, 1600, 0o640]);
    assert.equal((await cli('cp', 'cpc:/tmp/renamed/.', path.join(out, 'contents'))).code, 0);
    assert.deepEqual(fs.readdirSync(path.join(out, 'contents')).sort(), ['f', 'sub']);
    assertEngineError(await cli('cp', 'cpc:/tmp/renamed', path.join(out, 'single')), /cannot copy the folder \/tmp\/renamed onto the file/);
    assertEngineError(await cli('cp', 'cpc:/nope', out), /no such file or folder in cpc: \/nope/);
    // a tar on stdout and stdin
    const tarOut = await runCmd('sh', ['-c', `${process.execPath} ${BIN} cp cpc:/tmp/renamed/f - | tar -tvf -`], { env: { ...process.env, ISOLA_ROOT: fx.root } });
    assert.match(tarOut.stdout, /1500\/1600 .* f$/m);
    await sh('mkdir /srv');
    const tarIn = await runCmd('sh', ['-c', `tar -C ${src} -cf - dir | ${process.execPath} ${BIN} cp - cpc:/srv`], { env: { ...process.env, ISOLA_ROOT: fx.root } });
    assert.equal(tarIn.code, 0, tarIn.stderr);
    assert.equal(await sh('cat /srv/dir/f'), 'file-content');
    // a symlink in the instance that points out of it is followed inside it
    await sh('ln -s / /tmp/escape; mkdir -p /tmp/landing');
    assert.equal((await cli('cp', path.join(src, 'dir', 'f'), 'cpc:/tmp/escape/tmp/landing/')).code, 0);
    assert.equal(await sh('cat /tmp/landing/f'), 'file-content', 'the link to / meant the instance\'s /');
    assertEngineError(await cli('cp', 'cpc:/a', 'cpc:/b'), /between the host and an instance, not between two instances/);
  }

  describe('bad input: one line, exit 125, nothing made', () => {
    const refused = async (args: string[], pattern: RegExp) => {
      const before = fs.readdirSync(host).sort();
      assertEngineError(await cli(...args), pattern);
      assert.deepEqual(await volumes(), [], 'no volume made');
      assert.deepEqual(fs.readdirSync(host).sort(), before, 'no host folder made');
      await assertNothingLeft();
    };
    test('-v with a relative path inside', () => refused(['run', '-v', `${host}/x:app`, 'base', 'true'], /the path inside the instance "app" is not absolute; use an absolute path, for example \/app/));
    test('a volume name with bad characters', () => refused(['run', '-v', 'my$vol:/data', 'base', 'true'], /invalid volume name "my\$vol"/));
    test('--mount with an unknown key', () => refused(['run', '--mount', `type=bind,source=${host},target=/x,colour=red`, 'base', 'true'], /unknown key "colour"/));
    test('--mount type=bind with a missing source', () => refused(['run', '--mount', `type=bind,source=${host}/absent,target=/x`, 'base', 'true'], /bind source path .*absent does not exist/));
    test('two mounts at one path', () => refused(['run', '-v', 'v1:/data', '-v', `${host}/other:/data`, 'base', 'true'], /two mounts at \/data/));
    test('a host path through a dangling symlink', async () => {
      fs.symlinkSync('/nonexistent-target', path.join(host, 'dangling'));
      await refused(['run', '-v', `${host}/dangling:/x`, 'base', 'true'], /is a symlink to something that does not exist/);
    });
    test('a host path that climbs with ..', () => refused(['run', '-v', `${host}/../etc:/x`, 'base', 'true'], /climbs with "\.\."/));
    test('rshared from a private host mount', () => refused(['run', '-v', `${host}:/x:rshared`, 'base', 'true'], /bind propagation rshared needs .* on a shared host mount, but its mount is private/));
    test('a propagation for a VM', () => refused(['run', '--as', 'vm', '-v', `${host}:/x:rslave`, 'base', 'true'], /bind propagation rslave means nothing for --as vm/));
    test('a single file shared with a VM', async () => {
      fs.writeFileSync(path.join(host, 'single-file'), 'x');
      await refused(['run', '--as', 'hybrid', '-v', `${host}/single-file:/x`, 'base', 'true'], /is not a folder: --as hybrid shares folders with the guest/);
    });
    test('volume rm of an unknown volume, volume create of a bad name', async () => {
      assertEngineError(await cli('volume', 'rm', 'nope'), /no such volume: nope/);
      assertEngineError(await cli('volume', 'create', '../up'), /invalid volume name "\.\.\/up"/);
      assert.deepEqual(await volumes(), []);
    });
  });
});
