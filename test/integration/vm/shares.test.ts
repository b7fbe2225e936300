import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { shareProcesses } from '../../../src/drivers/vm/virtiofs.js';
import { vmmId } from '../../../src/drivers/vm/jail.js';

/**
 * A VM's shared folders from the host's side: each virtiofsd is confined as docs/SECURITY.md
 * says (measured here from /proc, as the doc's table was), its socket is the VM's alone, and it
 * goes with the VM, also when QEMU never started.
 */
function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const [k, v] = l.split(':\t');
    if (k && v !== undefined) out[k] = v.trim();
  }
  return out;
}
const ns = (pid: number | 'self', n: string) => fs.readlinkSync(`/proc/${pid}/ns/${n}`);
// chown, dac_override, fowner, fsetid, setgid, setuid, mknod, setfcap: what virtiofsd keeps to act for the guest's users.
const WORKER_CAPS = 0x880000dbn;

describe('virtiofsd beside a VM', { timeout: 300_000 }, () => {
  let fx: Fixture;
  let share: string;
  const cli = (...args: string[]) => isola(fx.root, args, { timeoutMs: 180_000 });

  before(async () => {
    fx = await makeFixture();
    share = path.join(fx.root, 'share');
    fs.mkdirSync(share);
  });
  after(async () => {
    await cli('rm', '-f', 'vfs');
    await fx.dispose();
  });

  test('is confined: the worker in its own mount, pid and net namespaces, rooted in the share, few capabilities, seccomp, no new privileges', async () => {
    const r = await cli('run', '-d', '--name', 'vfs', '--as', 'vm', '-v', `${share}:/data:ro`, 'base', 'sleep', '600');
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const runDir = path.join(fx.root, 'run', id.slice(0, 12));
    const pids = shareProcesses(runDir);
    assert.equal(pids.length, 2, 'virtiofsd and its sandboxed worker');
    const worker = pids.find((p) => status(p).NSpid?.includes('\t')) ?? 0;
    const parent = pids.find((p) => p !== worker) ?? 0;
    const w = status(worker);
    assert.equal(w.NoNewPrivs, '1');
    assert.equal(w.Seccomp, '2');
    assert.equal(BigInt(`0x${w.CapEff}`) & ~WORKER_CAPS, 0n, `worker CapEff ${w.CapEff} within chown, dac_override, fowner, fsetid, setgid, setuid, mknod, setfcap`);
    assert.equal(BigInt(`0x${w.CapBnd}`), 0n);
    for (const n of ['mnt', 'pid', 'net']) assert.notEqual(ns(worker, n), ns('self', n), `worker's own ${n} namespace`);
    assert.deepEqual(fs.readdirSync(`/proc/${worker}/root`), [], 'its root is the (empty) shared folder');
    const p = status(parent);
    assert.equal(BigInt(`0x${p.CapEff}`), 0n, 'the waiting parent keeps no capability');
    assert.notEqual(ns(parent, 'net'), ns('self', 'net'));
    const sock = fs.statSync(path.join(runDir, 'vfs0.sock'));
    assert.deepEqual([sock.isSocket(), sock.uid, sock.mode & 0o777], [true, vmmId(id), 0o600], 'only this VM\'s QEMU may connect');
    assert.equal(fs.existsSync('/run/virtiofsd') && fs.readdirSync('/run/virtiofsd').some((f) => f.includes(id.slice(0, 12))), false, 'no lock file outside the data root');
    assert.equal((await cli('rm', '-f', 'vfs')).code, 0);
    assert.deepEqual(shareProcesses(runDir), []);
    assert.deepEqual(hostLeftovers(fx), []);
  });

  test('goes when QEMU never comes to connect to it', async () => {
    // A QEMU that fails at once (outside the jail's /usr it cannot even be executed): virtiofsd,
    // started first, waits for a connection that never comes, so only isola's cleanup ends it.
    const bin = path.join(fx.root, 'fake-qemu');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'qemu-system-x86_64'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    fs.symlinkSync('/usr/bin/qemu-img', path.join(bin, 'qemu-img'));
    const r = await isola(fx.root, ['run', '-d', '--name', 'noqemu', '--as', 'vm', '-v', `${share}:/data`, 'base', 'true'], {
      timeoutMs: 120_000, env: { ISOLA_QEMU: path.join(bin, 'qemu-system-x86_64'), ISOLA_ACCEL: 'tcg' },
    });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /QEMU could not start the VM/);
    await cli('rm', '-f', 'noqemu');
    assert.deepEqual(hostLeftovers(fx), [], 'the virtiofsd that waited for QEMU is gone');
  });
});
