import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startThroughExecFifo, startsThroughFifo } from '../../../src/drivers/container/exec-fifo.js';

/** A runtime state folder with `<id>/exec.fifo`, as `runc create` leaves it. */
function stateRoot(): { root: string; fifo: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-exec-fifo-'));
  fs.mkdirSync(path.join(root, 'c1'));
  const fifo = path.join(root, 'c1', 'exec.fifo');
  assert.equal(spawnSync('mkfifo', ['-m', '0622', fifo]).status, 0);
  return { root, fifo };
}

test('exec fifo: the waiting init is released (it reads the byte the init writes) and the fifo is removed, as runc start does', async () => {
  const { root, fifo } = stateRoot();
  try {
    // The "init": blocks in its open for writing until the start opens the fifo, writes 0, goes on.
    const init = spawn('sh', ['-c', `printf 0 > ${fifo}; echo released`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    init.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => init.on('close', r));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(out, '', 'the init must still be waiting before the start');
    await startThroughExecFifo(root, 'c1', init.pid ?? 0);
    assert.equal(await exited, 0);
    assert.equal(out, 'released\n');
    assert.equal(fs.existsSync(fifo), false, 'the fifo marks a created container: gone once started');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('exec fifo: an init that died before the start is an error, seen within the liveness poll (no hang)', async () => {
  const { root } = stateRoot();
  try {
    const gone = spawn('true');
    await new Promise((r) => gone.on('close', r));
    const t0 = performance.now();
    await assert.rejects(startThroughExecFifo(root, 'c1', gone.pid ?? 0, 20), /container process is already dead/);
    assert.ok(performance.now() - t0 < 2000);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('exec fifo: no fifo (started already, or never created) is an error naming why', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-exec-fifo-'));
  try {
    await assert.rejects(startThroughExecFifo(root, 'c1', process.pid), /stopped or is already running/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('exec fifo: used for runc only; other runtimes keep their start verb', () => {
  assert.equal(startsThroughFifo('/usr/sbin/runc'), true);
  assert.equal(startsThroughFifo('runc'), true);
  assert.equal(startsThroughFifo('/usr/bin/crun'), false);
  assert.equal(startsThroughFifo('/usr/bin/runsc'), false);
});
