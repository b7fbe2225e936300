import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OS_EXITED, OS_MARKER, osAccounts, osUnits, resolveCommand, resolveUser, unitWord } from '../../../src/bench/full-os.js';

test('the full-OS VM\'s units: the workload as a chrooted service after the address and the marker, its argv quoted for systemd', () => {
  const u = osUnits({ argv: ['/bin/httpd', '-f', '-p', '8080', '100%', '$HOME'], env: ['PATH=/bin', 'A=b "c"'], workdir: '/www', uid: 1000, gid: 1000, name: 'hello' });
  const app = u['etc/systemd/system/isola-app.service'] ?? '';
  assert.match(app, /^RootDirectory=\/srv\/app$/m);
  assert.match(app, /^After=isola-net\.service isola-marker\.service$/m);
  assert.match(app, /^User=1000$/m);
  assert.match(app, /^WorkingDirectory=\/www$/m);
  assert.match(app, /^ExecStart="\/bin\/httpd" "-f" "-p" "8080" "100%%" "\$\$HOME"$/m);
  assert.match(app, /^Environment="A=b \\"c\\""$/m);
  assert.match(u['etc/systemd/system/isola-marker.service'] ?? '', new RegExp(`ExecStart=/bin/echo ${OS_MARKER}`));
  assert.match(u['usr/local/sbin/isola-net'] ?? '', /opt\/isola\/config/);
  // Its end is printed on the console by systemd outside the chroot, with the shell's $ escaped for systemd.
  assert.ok(app.includes(`ExecStopPost=+/bin/sh -c 'echo "${OS_EXITED}: $$SERVICE_RESULT $$EXIT_CODE $$EXIT_STATUS"'`), app);
  assert.equal(unitWord('a"b\\c'), '"a\\"b\\\\c"');
});

test('the image\'s user and command are resolved in its own files, with a one-line error when they are not there', () => {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-fullos-'));
  try {
    fs.mkdirSync(path.join(tree, 'etc'));
    fs.mkdirSync(path.join(tree, 'bin'));
    fs.writeFileSync(path.join(tree, 'etc', 'passwd'), 'root:x:0:0::/:/bin/sh\nweb:x:1000:1001:web:/www:/bin/false\n');
    fs.writeFileSync(path.join(tree, 'etc', 'group'), 'root:x:0:\nweb:x:1001:\nstaff:x:50:\n');
    fs.writeFileSync(path.join(tree, 'bin', 'busybox'), '');
    fs.symlinkSync('busybox', path.join(tree, 'bin', 'httpd'));
    assert.deepEqual(resolveUser(tree, 'web'), { uid: 1000, gid: 1001 });
    assert.deepEqual(resolveUser(tree, 'web:staff'), { uid: 1000, gid: 50 });
    assert.deepEqual(resolveUser(tree, ''), { uid: 0, gid: 0 });
    assert.throws(() => resolveUser(tree, 'nobody'), /the image's user "nobody" is not in its \/etc\/passwd/);
    assert.equal(resolveCommand(tree, 'httpd', ['PATH=/usr/bin:/bin']), '/bin/httpd');
    assert.throws(() => resolveCommand(tree, 'nginx', ['PATH=/bin']), /the workload's command "nginx" is not on the image's PATH/);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
});

test('the image\'s numeric user gets an entry in the OS\'s own passwd and group (systemd refuses a User= number it cannot look up: 217/USER)', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
  const group = 'root:x:0:\nnogroup:x:65534:\n';
  const a = osAccounts(passwd, group, 1000, 1000);
  assert.ok(a);
  assert.equal(a.passwd, `${passwd}isola-app:x:1000:1000:isola compare workload:/srv/app:/usr/sbin/nologin\n`);
  assert.equal(a.group, `${group}isola-app:x:1000:\n`);
  // What the OS has stays as it is; nothing to add for root or nobody.
  assert.equal(osAccounts(passwd, group, 0, 0), undefined);
  assert.equal(osAccounts(passwd, group, 65534, 65534), undefined);
  const onlyGroup = osAccounts(passwd, group, 65534, 50);
  assert.equal(onlyGroup?.passwd, passwd);
  assert.equal(onlyGroup?.group, `${group}isola-app:x:50:\n`);
  // A name the OS already uses is not taken twice; a file without a final newline gets one.
  const b = osAccounts('isola-app:x:7:7::/:/bin/false', 'isola-app:x:7:', 1000, 1000);
  assert.match(b?.passwd ?? '', /^isola-app:x:7:7::\/:\/bin\/false\nisola-app1:x:1000:1000:/);
  assert.equal(b?.group, 'isola-app:x:7:\nisola-app1:x:1000:\n');
});
