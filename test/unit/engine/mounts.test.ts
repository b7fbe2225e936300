import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from '../../../src/engine/mount-flags.js';
import { applyPlan, hostMountPropagation, planMounts } from '../../../src/engine/mounts.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { parseCopyEnd } from '../../../src/engine/copy.js';

const oneLine = (code: string, re: RegExp) => (e: unknown) => isIsolaError(e) && e.code === code && re.test(e.oneLine()) && !e.oneLine().includes('\n');

test('-v: host paths (/ and ./), named volumes, anonymous volumes, ro and propagation', () => {
  assert.deepEqual(parseVolumeFlag('/srv/www:/www:ro', '/cwd'), { type: 'bind', source: '/srv/www', target: '/www', readOnly: true, createSource: true });
  assert.deepEqual(parseVolumeFlag('./site:/www', '/cwd'), { type: 'bind', source: '/cwd/site', target: '/www', readOnly: false, createSource: true });
  assert.deepEqual(parseVolumeFlag('/a:/b:ro,rslave', '/'), { type: 'bind', source: '/a', target: '/b', readOnly: true, propagation: 'rslave', createSource: true });
  assert.deepEqual(parseVolumeFlag('data:/var/lib/data', '/'), { type: 'volume', source: 'data', target: '/var/lib/data', readOnly: false });
  assert.deepEqual(parseVolumeFlag('/cache', '/'), { type: 'volume', target: '/cache', readOnly: false });
  assert.deepEqual(parseVolumeFlag('data:/x/../y/', '/'), { type: 'volume', source: 'data', target: '/y', readOnly: false }, 'the path inside is cleaned');
});

test('-v refuses, in one line naming the fix: a relative container path, bad names, unknown options, .., the root', () => {
  assert.throws(() => parseVolumeFlag('data:app', '/'), oneLine('INVALID_ARGUMENT', /path inside the instance "app" is not absolute; use an absolute path, for example \/app/));
  assert.throws(() => parseVolumeFlag('relative', '/'), oneLine('INVALID_ARGUMENT', /not absolute/));
  assert.throws(() => parseVolumeFlag('bad$name:/x', '/'), oneLine('INVALID_ARGUMENT', /invalid volume name "bad\$name"/));
  assert.throws(() => parseVolumeFlag('x:/x', '/'), oneLine('INVALID_ARGUMENT', /invalid volume name "x"/), 'Docker wants two characters at least');
  assert.throws(() => parseVolumeFlag('/a:/b:z', '/'), oneLine('INVALID_ARGUMENT', /unknown option "z".*SELinux/));
  assert.throws(() => parseVolumeFlag('/a/../etc:/b', '/'), oneLine('INVALID_ARGUMENT', /climbs with "\.\."/));
  assert.throws(() => parseVolumeFlag('/a:/', '/'), oneLine('INVALID_ARGUMENT', /cannot mount over the instance's root/));
  assert.throws(() => parseVolumeFlag('data:/b:rshared', '/'), oneLine('INVALID_ARGUMENT', /propagation applies to host folders/));
  assert.throws(() => parseVolumeFlag('a:b:c:d', '/'), oneLine('INVALID_ARGUMENT', /too many ":"/));
});

test('--mount: Docker\'s keys and aliases, readonly forms, tmpfs size and mode; unknown keys refused', () => {
  assert.deepEqual(parseMountFlag('type=bind,source=/h,target=/c,readonly,bind-propagation=rshared', '/'), { type: 'bind', source: '/h', target: '/c', readOnly: true, propagation: 'rshared', createSource: false });
  assert.deepEqual(parseMountFlag('type=volume,src=v1,dst=/d,ro=true', '/'), { type: 'volume', source: 'v1', target: '/d', readOnly: true });
  assert.deepEqual(parseMountFlag('target=/anon', '/'), { type: 'volume', target: '/anon', readOnly: false }, 'type defaults to volume, no source: anonymous');
  assert.deepEqual(parseMountFlag('type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770', '/'), { type: 'tmpfs', target: '/t', readOnly: false, noExec: false, sizeBytes: 1 << 20, mode: 0o1770 });
  assert.equal((parseMountFlag('type=bind,src=/a,dst=/b,readonly=false', '/') as { readOnly: boolean }).readOnly, false);
  assert.throws(() => parseMountFlag('type=bind,source=/a,target=/b,colour=blue', '/'), oneLine('INVALID_ARGUMENT', /unknown key "colour"/));
  assert.throws(() => parseMountFlag('type=nfs,target=/b', '/'), oneLine('INVALID_ARGUMENT', /unknown type "nfs"/));
  assert.throws(() => parseMountFlag('type=bind,target=/b', '/'), oneLine('INVALID_ARGUMENT', /type=bind needs a source/));
  assert.throws(() => parseMountFlag('type=tmpfs,source=x,target=/b', '/'), oneLine('INVALID_ARGUMENT', /takes no source/));
  assert.throws(() => parseMountFlag('type=volume,source=v,target=/b,tmpfs-size=1m', '/'), oneLine('INVALID_ARGUMENT', /tmpfs-size does not apply to type=volume/));
  assert.throws(() => parseMountFlag('type=bind,source=/a,target=rel', '/'), oneLine('INVALID_ARGUMENT', /not absolute/));
  assert.throws(() => parseMountFlag('type=volume,source=/abs,target=/b', '/'), oneLine('INVALID_ARGUMENT', /takes a volume name, not the path/));
  assert.throws(() => parseMountFlag('type=bind,source=/a,target=/b,bind-propagation=sideways', '/'), oneLine('INVALID_ARGUMENT', /unknown propagation/));
  assert.throws(() => parseMountFlag('type=tmpfs,target=/t,tmpfs-mode=999', '/'), oneLine('INVALID_ARGUMENT', /invalid mode "999"/));
});

test('--tmpfs: noexec unless exec, size and mode', () => {
  assert.deepEqual(parseTmpfsFlag('/run'), { type: 'tmpfs', target: '/run', readOnly: false, noExec: true });
  assert.deepEqual(parseTmpfsFlag('/run:size=64m,mode=755,exec'), { type: 'tmpfs', target: '/run', readOnly: false, noExec: false, sizeBytes: 64 << 20, mode: 0o755 });
  assert.throws(() => parseTmpfsFlag('/run:uid=5'), oneLine('INVALID_ARGUMENT', /unknown option "uid=5"/));
});

test('planMounts checks everything before anything is made; applyPlan then makes -v\'s missing folders', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-mounts-'));
  try {
    fs.mkdirSync(path.join(dir, 'real'));
    fs.symlinkSync('real', path.join(dir, 'link'));
    fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    const p = planMounts([
      parseVolumeFlag(`${dir}/link:/a`, '/'),
      parseVolumeFlag(`${dir}/new/deep:/b`, '/'),
      parseVolumeFlag('named:/c:ro', '/'),
      parseVolumeFlag('/d', '/'),
      parseTmpfsFlag('/e:size=1m'),
    ], 'container');
    assert.equal(p.mounts[0]?.type === 'bind' && p.mounts[0].source, path.join(fs.realpathSync(dir), 'real'), 'a symlinked host path is recorded as its real path');
    assert.deepEqual(p.missing, [`${dir}/new/deep`]);
    assert.equal(fs.existsSync(`${dir}/new`), false, 'planning makes nothing');
    assert.deepEqual(p.volumes.map((v) => v.anonymous), [false, true]);
    assert.match(p.volumes[1]?.name ?? '', /^[0-9a-f]{64}$/);
    applyPlan(p);
    assert.ok(fs.statSync(`${dir}/new/deep`).isDirectory());
    assert.throws(() => planMounts([parseVolumeFlag('/x:/a', '/'), parseVolumeFlag('v1:/a', '/')], 'container'), oneLine('INVALID_ARGUMENT', /two mounts at \/a/));
    assert.throws(() => planMounts([parseMountFlag(`type=bind,source=${dir}/absent,target=/a`, '/')], 'container'), oneLine('NOT_FOUND', /bind source path .* does not exist/));
    assert.throws(() => planMounts([parseVolumeFlag(`${dir}/dangling:/a`, '/')], 'container'), oneLine('UNSAFE', /symlink to something that does not exist/));
    assert.throws(() => planMounts([parseVolumeFlag(`${dir}/file:/a`, '/')], 'vm'), oneLine('INVALID_ARGUMENT', /not a folder: --as vm shares folders/));
    assert.doesNotThrow(() => planMounts([parseVolumeFlag(`${dir}/file:/a`, '/')], 'container'), 'a container binds single files');
    assert.throws(() => planMounts([parseVolumeFlag(`${dir}/real:/a:rslave`, '/')], 'hybrid'), oneLine('INVALID_ARGUMENT', /propagation rslave means nothing for --as hybrid/));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bind propagation follows the host mount holding the path (mountinfo optional fields)', () => {
  const info = [
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '40 27 0:40 / /srv rw shared:5 - tmpfs tmpfs rw',
    '41 40 0:41 / /srv/slave rw master:5 - tmpfs tmpfs rw',
  ].join('\n');
  assert.equal(hostMountPropagation('/home/x', info), 'private');
  assert.equal(hostMountPropagation('/srv/www', info), 'shared');
  assert.equal(hostMountPropagation('/srv/slave/a', info), 'slave');
  assert.equal(hostMountPropagation('/srvother', info), 'private', 'a prefix that is not a path component does not count');
});

test('cp ends: INSTANCE:PATH, host paths, -', () => {
  assert.deepEqual(parseCopyEnd('web:/etc/hosts'), { instance: 'web', path: '/etc/hosts' });
  assert.deepEqual(parseCopyEnd('./a:b'), { host: './a:b' });
  assert.deepEqual(parseCopyEnd('/tmp/x'), { host: '/tmp/x' });
  assert.deepEqual(parseCopyEnd('-'), { host: '-' });
  assert.deepEqual(parseCopyEnd('file'), { host: 'file' });
});
