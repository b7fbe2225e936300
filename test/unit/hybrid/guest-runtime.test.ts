import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { filterGuestRuntimeErrors } from '../../../src/drivers/hybrid/runtime-errors.js';
import { startedFrom } from '../../../src/drivers/hybrid/monitor.js';
import { guestRuntimeOf, hybridTbSizeMiB } from '../../../src/drivers/hybrid/driver.js';
import { isIsolaError } from '../../../src/core/errors.js';

function sinkOf(): { w: Writable; text: () => string } {
  let s = '';
  return { w: new Writable({ write(c: Buffer, _e, cb) { s += c.toString(); cb(); } }), text: () => s };
}

const write = (w: Writable, s: string): Promise<void> => new Promise((r) => w.write(s, () => r()));

test('crun exec: a command not found or not executable becomes 127/126 when crun exited 255', async () => {
  const out = sinkOf();
  const f = filterGuestRuntimeErrors(out.w, 'in the hybrid guest');
  await write(f.sink, 'executable file `nosuch` not found in $PATH: No such file or directory\n');
  const e = f.error(255);
  assert.ok(isIsolaError(e, 'COMMAND_NOT_FOUND'), String(e));
  assert.match(e.message, /nosuch.*in the hybrid guest/);
  assert.equal(out.text(), '');

  const g = filterGuestRuntimeErrors(out.w, 'in the hybrid guest');
  await write(g.sink, 'open executable: Permission denied\n');
  assert.ok(isIsolaError(g.error(255), 'CANNOT_INVOKE'));
});

test('the same words from the workload itself (its own exit status) are passed on, not taken for crun\'s', async () => {
  const out = sinkOf();
  const f = filterGuestRuntimeErrors(out.w, 'in the hybrid guest');
  await write(f.sink, 'hello\n');
  await write(f.sink, 'open executable: Permission denied\n');
  assert.equal(f.error(1), null);
  assert.equal(out.text(), 'hello\nopen executable: Permission denied\n');
});

test('runc\'s error lines are still recognised', async () => {
  const out = sinkOf();
  const f = filterGuestRuntimeErrors(out.w, 'in the hybrid guest');
  await write(f.sink, 'time="2026-01-01T00:00:00Z" level=error msg="exec failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH"\n');
  assert.ok(isIsolaError(f.error(255), 'COMMAND_NOT_FOUND'));
});

test('started probe: crun\'s state file, runc\'s state other than creating', () => {
  assert.equal(startedFrom({ code: 0, stdout: 'crun\n' }), true);
  assert.equal(startedFrom({ code: 0, stdout: '{"status":"running","pid":5}' }), true);
  assert.equal(startedFrom({ code: 0, stdout: '{"status":"creating","pid":0}' }), false);
  assert.equal(startedFrom({ code: 1, stdout: '' }), false);
});

test('--runtime with --as hybrid: crun by default (runc where crun is not installed), runc or crun asked for, else refused', () => {
  assert.equal(guestRuntimeOf({ runtime: '' }), 'crun');
  assert.equal(guestRuntimeOf({ runtime: '' }, (r) => r !== 'crun'), 'runc');
  assert.equal(guestRuntimeOf({ runtime: 'runc' }), 'runc');
  assert.equal(guestRuntimeOf({ runtime: 'crun' }), 'crun');
  assert.throws(() => guestRuntimeOf({ runtime: 'runsc' }), /--runtime runsc is not available inside the hybrid guest/);
});

test('translation cache: 32 MiB for a crun hybrid under TCG; QEMU\'s default with runc (Go is retranslated) and on KVM', () => {
  assert.equal(hybridTbSizeMiB('tcg', 'crun'), 32);
  assert.equal(hybridTbSizeMiB('tcg', 'runc'), undefined);
  assert.equal(hybridTbSizeMiB('kvm', 'crun'), undefined);
});
