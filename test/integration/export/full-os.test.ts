import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { debianRootfs } from '../../helpers/debian-image.js';

/**
 * The classic VM: a Debian 12 image with systemd, udev, D-Bus and a kernel package (debootstrap,
 * cached outside the checkout) exported as a whole disk that boots its own kernel and init,
 * then run by isola like any VM instance: it reaches a login prompt on its serial console,
 * which is its log; stats come from the host; exec is refused with the reason; stop presses
 * ACPI's power button and systemd powers off (status 0); rm leaves nothing.
 */
const OS_PACKAGES = ['systemd', 'systemd-sysv', 'udev', 'dbus', 'linux-image-cloud-amd64'];
const BOOT_WAIT_MS = 240_000;

let fx: Fixture;
let dir: string;
const cli = (args: string[], timeoutMs = 300_000) => isola(fx.root, args, { timeoutMs });

describe('a full OS as a whole-disk VM', { timeout: 900_000 }, () => {
  let disk: string;
  before(async () => {
    fx = await makeFixture();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-full-os-'));
    const rootfs = await debianRootfs(OS_PACKAGES);
    const im = await cli(['import', rootfs, 'debian-os:12']);
    assert.equal(im.code, 0, im.stderr);
    disk = path.join(dir, 'debian.qcow2');
    const ex = await cli(['export', '-o', disk, '--free', '256m', 'debian-os:12']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /boots the image's own kernel 6\.\d+\.\d+-\d+-cloud-amd64 and init/);
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    const left = hostLeftovers(fx);
    await fx.dispose();
    assert.deepEqual(left, []);
  });

  test('boots to a login prompt, is measured from the host, and powers off by ACPI on stop', async () => {
    const r = await cli(['run', '-d', '--name', 'deb', '-m', '512m', '--disk', disk]);
    assert.equal(r.code, 0, r.stderr);
    const deadline = Date.now() + BOOT_WAIT_MS;
    let logs = '';
    while (!/^\S+ login: ?$/m.test(logs)) {
      assert.ok(Date.now() < deadline, `no login prompt within ${BOOT_WAIT_MS / 1000} s; console ends: ${logs.slice(-1500)}`);
      await sleep(2000);
      logs = (await cli(['logs', 'deb'])).stdout;
    }
    assert.match(logs, /Debian GNU\/Linux 12/);
    assert.match(logs, /Reached target .*Multi-User System/);

    const ps = await cli(['ps']);
    assert.match(ps.stdout, /deb\s*$/m);
    const stats = JSON.parse((await cli(['stats', '--no-stream', '--json', 'deb'])).stdout) as { memoryBytes: number; cpuNanos: number; memoryLimitBytes: number }[];
    assert.ok((stats[0]?.memoryBytes ?? 0) > 32 * 1024 * 1024, 'the guest has touched its RAM');
    assert.equal(stats[0]?.memoryLimitBytes, 512 * 1024 * 1024);
    assert.ok((stats[0]?.cpuNanos ?? 0) > 0);
    const ex = await cli(['exec', 'deb', 'true']);
    assert.equal(ex.code, 125);
    assert.match(ex.stderr, /boots its own OS, without isola's init: exec needs it/);
    const ins = JSON.parse((await cli(['inspect', 'deb'])).stdout) as { Driver: { machine: string; wholeDisk: { agent: boolean; firmware: string } } }[];
    assert.deepEqual([ins[0]?.Driver.machine, ins[0]?.Driver.wholeDisk.agent, ins[0]?.Driver.wholeDisk.firmware], ['q35', false, 'bios']);

    const stop = await cli(['stop', '-t', '120', 'deb']);
    assert.equal(stop.code, 0, stop.stderr);
    const after = await cli(['ps', '-a']);
    assert.match(after.stdout, /Exited \(0\)/, 'powered off by its own OS, not killed');
    assert.match((await cli(['logs', 'deb'])).stdout, /reboot: Power down/);
    assert.equal((await cli(['rm', 'deb'])).code, 0);
  });
});
