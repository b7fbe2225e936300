import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { cpioArchive } from '../../../src/guest/cpio.js';
import { readGuestAssets } from '../../../src/guest/assets.js';

/**
 * `--as vm` end to end through the real CLI and real QEMU (TCG on a host whose KVM probe
 * fails): exit codes, separate streams, the detached lifecycle, and every bad input the issue
 * lists. Each test checks that no QEMU process or tap of its instances is left.
 */
const T = { timeout: 120_000 };

function qemuProcessesFor(ids: string[]): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (ids.some((id) => cmd.includes(`isola-${id}`))) out.push(p);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** QEMU processes whose command line points into `root` (their disks and initrds live there). */
function qemuUnder(root: string): string[] {
  return fs.readdirSync('/proc').filter((p) => {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return /^\d+$/.test(p) && cmd.startsWith('/') && cmd.includes('qemu-system') && cmd.includes(root);
    } catch {
      return false;
    }
  });
}

function taps(ids: string[]): string[] {
  return fs.readdirSync('/sys/class/net').filter((d) => ids.some((id) => d === `isolat${id.slice(0, 9)}`));
}

describe('isola --as vm (CLI, real QEMU)', () => {
  let fx: Fixture;
  const ids: string[] = [];
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => isola(fx.root, args, { env, timeoutMs: 110_000 });

  before(async () => {
    fx = await makeFixture();
    assert.ok(readGuestAssets(fx.config.assets), 'guest assets must be set up (npm run bootstrap)');
  });
  after(async () => {
    const left = await cli(['ps', '-a', '-q']);
    for (const id of left.stdout.split('\n').filter(Boolean)) await cli(['rm', '-f', id]);
    assert.deepEqual(qemuProcessesFor(ids), [], 'no QEMU left running');
    assert.deepEqual(taps(ids), [], 'no tap left');
    await fx.dispose();
  });

  test('run --rm propagates the exit status and keeps stdout and stderr apart', T, async () => {
    const r = await cli(['run', '--rm', '--as', 'vm', 'base', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 7']);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'to-out\n');
    assert.equal(r.stderr, 'to-err\n');
  });

  test('the q35 fallback machine boots the same guest over PCI', T, async () => {
    const r = await cli(['run', '--rm', '--as', 'vm', '--network', 'none', 'base', 'sh', '-c', 'echo on-q35; ls /sys/bus/pci/devices | wc -l; exit 3'], { ISOLA_VM_MACHINE: 'q35' });
    assert.equal(r.code, 3, r.stderr);
    const [first, pci] = r.stdout.trim().split('\n');
    assert.equal(first, 'on-q35');
    assert.ok(Number(pci) > 0, 'q35 has a PCI bus, microvm has none');
  });

  test('under TCG isola\'s kernel takes the APIC timer\'s rate from the host instead of timing it, the cloud kernel times it, timers run on both, and the CPU has no ERMS', T, async () => {
    // apic=verbose makes the kernel say which way it went; the timer must then really fire
    // (sleep returns, and a 300 ms sleep takes about 300 ms by the guest's clock).
    const script = 'grep -q "QEMU TCG CPU" /proc/cpuinfo && echo under-tcg; grep -qw erms /proc/cpuinfo && echo has-erms; dmesg | grep -E "already calibrated|calibration result" | sed "s/^.*] //"; a=$(cut -d" " -f1 /proc/uptime); sleep 0.3; b=$(cut -d" " -f1 /proc/uptime); echo "slept $a $b"';
    for (const kernel of ['isola', 'cloud'] as const) {
      const r = await cli(['run', '--rm', '--as', 'vm', '--network', 'none', 'base', 'sh', '-c', script], { ISOLA_VM_KERNEL: kernel, ISOLA_VM_CMDLINE: 'apic=verbose' });
      assert.equal(r.code, 0, r.stderr);
      // Under KVM the CPU's TSC-deadline timer needs neither (nothing to check but the sleep).
      if (r.stdout.includes('under-tcg')) {
        assert.match(r.stdout, kernel === 'isola' ? /lapic timer already calibrated 4000000/ : /calibration result: \d+/, `${kernel}: ${r.stdout}`);
        // TCG_CPU: byte-wise rep strings (ERMS) cost TCG 8 times the steps of quadword ones.
        assert.ok(!r.stdout.includes('has-erms'), `${kernel}: the guest CPU offers ERMS`);
      }
      const m = /slept ([\d.]+) ([\d.]+)/.exec(r.stdout);
      assert.ok(m, `${kernel}: ${r.stdout}`);
      const slept = Number(m[2]) - Number(m[1]);
      assert.ok(slept >= 0.29 && slept < 1.5, `${kernel}: a 300 ms sleep took ${slept} s by the guest's clock`);
    }
  });

  test('a missing command exits 127, a non-executable one 126', T, async () => {
    const a = await cli(['run', '--rm', '--as', 'vm', 'base', 'no-such-command']);
    assert.equal(a.code, 127, a.stderr);
    assert.match(a.stderr, /no-such-command/);
    const b = await cli(['run', '--rm', '--as', 'vm', 'base', '/etc/passwd']);
    assert.equal(b.code, 126, b.stderr);
  });

  test('detached: ps shows kind and accelerator, logs hold only the workload, console the boot, exec and stats work', T, async () => {
    const r = await cli(['run', '-d', '--as', 'vm', '--name', 'vm1', '-m', '160m', '--cpus', '1.5', 'base', 'sh', '-c', 'echo started; while true; do sleep 1; done']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    ids.push(id);
    const ps = JSON.parse((await cli(['ps', '--json'])).stdout || '[]') as { name: string; kind: string; accelerator: string }[];
    const me = ps.find((p) => p.name === 'vm1');
    assert.ok(me, 'vm1 is listed');
    assert.equal(me.kind, 'vm');
    assert.match(me.accelerator, /^(kvm|tcg)$/);

    const ex = await cli(['exec', 'vm1', 'sh', '-c', 'grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo; echo oops >&2; exit 3']);
    assert.equal(ex.code, 3);
    const [cpus, mem] = ex.stdout.trim().split('\n');
    assert.equal(cpus, '2', '--cpus 1.5 rounds up to 2 vCPUs');
    assert.ok(Number(/(\d+)/.exec(mem ?? '')?.[1]) > 100_000, `guest RAM follows -m: ${mem}`);
    assert.equal(ex.stderr, 'oops\n');

    const logs = await cli(['logs', 'vm1']);
    assert.equal(logs.stdout, 'started\n', 'no kernel or init text in the workload log');
    const con = await cli(['console', 'vm1']);
    assert.match(con.stdout, /isola-init: userspace at/);
    assert.doesNotMatch(con.stdout, /^started$/m);

    const st = await cli(['stats', '--no-stream', '--json', 'vm1']);
    assert.equal(st.code, 0, st.stderr);

    const ins = JSON.parse((await cli(['inspect', 'vm1'])).stdout) as { Accelerator: string; GuestKernel: string; Driver: { imageDiskBytes: number; baseDisk: string; guestKernel: string } }[];
    assert.ok(ins[0]!.Driver.imageDiskBytes > 0);
    // The default kernel is isola's own: inspect says so, with its release.
    assert.match(ins[0]!.GuestKernel, /^6\.1\.\d+-isola \(isola's kernel [0-9a-f]{12}\)$/);
    assert.equal(ins[0]!.Driver.guestKernel, 'isola');
    assert.ok(fs.existsSync(ins[0]!.Driver.baseDisk));

    const stop = await cli(['stop', '-t', '2', 'vm1']);
    assert.equal(stop.code, 0, stop.stderr);
    const after = JSON.parse((await cli(['ps', '-a', '--json'])).stdout) as { name: string; state: string; exitCode: number }[];
    assert.equal(after.find((p) => p.name === 'vm1')?.state, 'exited');
    assert.equal(after.find((p) => p.name === 'vm1')?.exitCode, 143, 'SIGTERM reached the workload');
    assert.equal((await cli(['rm', 'vm1'])).code, 0);
    assert.deepEqual(qemuProcessesFor([id]), []);
    assert.deepEqual(taps([id]), []);
  });

  test('a VM killed from outside shows as exited and rm cleans up', T, async () => {
    const r = await cli(['run', '-d', '--as', 'vm', 'base', 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    ids.push(id);
    const ins = JSON.parse((await cli(['inspect', id])).stdout) as { State: { Pid: number }; Driver: { files: { agent: string } } }[];
    const pid = ins[0]!.State.Pid;
    assert.deepEqual(qemuProcessesFor([id]), [String(pid)], 'the recorded pid is the VM\'s QEMU');
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && qemuProcessesFor([id]).length; i++) await sleep(50);
    const ps = JSON.parse((await cli(['ps', '-a', '--json'])).stdout) as { id: string; state: string; exitCode: number }[];
    const me = ps.find((p) => p.id === id);
    assert.equal(me?.state, 'exited');
    assert.equal(me?.exitCode, 137);
    assert.equal((await cli(['rm', id])).code, 0);
    assert.deepEqual(taps([id]), []);
    assert.equal(fs.existsSync(ins[0]!.Driver.files.agent), false, 'sockets are gone');
  });

  describe('bad input and faults: one line, exit 125, nothing left behind', () => {
    let known = new Set<string>();
    before(() => {
      known = new Set(fs.readdirSync(fx.paths.instances));
    });
    const leftovers = (): string[] => fs.readdirSync(fx.paths.instances).filter((d) => !known.has(d));

    test('a kernel or initrd path that does not exist', T, async () => {
      const k = await cli(['run', '--rm', '--as', 'vm', '--kernel', '/nonexistent/vmlinuz', 'base', 'true']);
      assert.equal(k.code, 125);
      assert.match(k.stderr, /^isola: the kernel \/nonexistent\/vmlinuz does not exist; .*--kernel/);
      assert.equal(k.stderr.trim().split('\n').length, 1);
      const i = await cli(['run', '--rm', '--as', 'vm', '--initrd', '/nonexistent/initrd', 'base', 'true']);
      assert.equal(i.code, 125);
      assert.match(i.stderr, /the initrd \/nonexistent\/initrd does not exist/);
      assert.deepEqual(leftovers(), []);
    });

    test('-m below what the guest needs (48 MiB on isola\'s kernel, 96 MiB on the cloud kernel)', T, async () => {
      const r = await cli(['run', '--rm', '--as', 'vm', '-m', '32m', 'base', 'true'], { ISOLA_VM_KERNEL: 'isola' });
      assert.equal(r.code, 125);
      assert.match(r.stderr, /^isola: -m 32m is below the 48 MiB the guest kernel needs to boot; give the VM at least -m 48m$/m);
      const c = await cli(['run', '--rm', '--as', 'vm', '-m', '64m', 'base', 'true'], { ISOLA_VM_KERNEL: 'cloud' });
      assert.equal(c.code, 125);
      assert.match(c.stderr, /^isola: -m 64m is below the 96 MiB the guest kernel needs to boot; give the VM at least -m 96m$/m);
      assert.deepEqual(leftovers(), []);
    });

    test('QEMU missing', T, async () => {
      const r = await cli(['run', '--rm', '--as', 'vm', 'base', 'true'], { ISOLA_QEMU: '/nonexistent/qemu-system-x86_64' });
      assert.equal(r.code, 125);
      assert.match(r.stderr, /QEMU \(\/nonexistent\/qemu-system-x86_64\) is not installed.*; install Debian's qemu-system-x86/);
      assert.deepEqual(leftovers(), []);
    });

    test('a guest that never becomes ready: timeout, the console lines in the error, the VM cleaned up', T, async () => {
      // An initrd whose /init prints a line and then hangs, as a broken guest would.
      const initrd = path.join(fx.root, 'hang.cpio');
      fs.writeFileSync(initrd, cpioArchive([
        { type: 'dir', name: 'bin' },
        { type: 'dir', name: 'dev' },
        { type: 'char', name: 'dev/console', major: 5, minor: 1 },
        { type: 'file', name: 'bin/sh', data: fs.readFileSync('/bin/busybox'), mode: 0o755 },
        { type: 'symlink', name: 'bin/sleep', target: 'sh' },
        { type: 'file', name: 'init', data: Buffer.from('#!/bin/sh\necho "stuck on purpose"\nexec /bin/sleep 1000\n'), mode: 0o755 },
      ]));
      const t0 = Date.now();
      const pending = cli(['run', '--rm', '--as', 'vm', '--initrd', initrd, 'base', 'true'], { ISOLA_VM_BOOT_TIMEOUT_MS: '8000' });
      // Learn the instance's id while it exists, to look for its tap and QEMU afterwards
      // (other VMs may be running on this host at the same time).
      const seen = new Set<string>();
      let done = false;
      void pending.finally(() => (done = true));
      let sawQemu = false;
      while (!done) {
        for (const d of leftovers()) seen.add(d);
        if (!sawQemu && seen.size) sawQemu = qemuProcessesFor([...seen]).length > 0;
        await sleep(100);
      }
      const r = await pending;
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, /did not become ready within 8 s \((kvm|tcg)\); console: .*stuck on purpose/);
      assert.ok(Date.now() - t0 < 60_000);
      assert.equal(seen.size, 1, 'the instance existed while it booted');
      assert.ok(sawQemu, 'its QEMU ran');
      assert.deepEqual(qemuProcessesFor([...seen]), []);
      assert.deepEqual(taps([...seen]), []);
      assert.deepEqual(leftovers(), []);
      assert.deepEqual(qemuUnder(fx.root), [], 'no QEMU of this data root left');
    });
  });
});
