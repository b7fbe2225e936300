import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readK8sLog } from '../../../src/drivers/cri-log.js';

/**
 * One follow of a log whose writer exits meanwhile: the exit file appears in `exitDir` a few
 * milliseconds after the follow started waiting; returns how long after that the follow ended.
 */
async function followEndsAfterExit(watchExitDir: boolean): Promise<{ lines: string[]; lagMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-log-follow-'));
  try {
    const log = path.join(dir, 'container.log');
    const exitDir = path.join(dir, 'exits');
    fs.mkdirSync(exitDir);
    fs.writeFileSync(log, '2026-11-30T21:00:00.000000000Z stdout F hello\n');
    const exitFile = path.join(exitDir, 'id');
    let exitWrittenAt = 0;
    setTimeout(() => {
      fs.writeFileSync(exitFile, '0');
      exitWrittenAt = performance.now();
    }, 8);
    const lines: string[] = [];
    for await (const e of readK8sLog(log, true, () => fs.existsSync(exitFile), undefined, watchExitDir ? [exitDir] : [])) lines.push(e.text);
    return { lines, lagMs: performance.now() - exitWrittenAt };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('log follow: ends as soon as the exit file appears in a watched exit folder, not one nap later', async () => {
  // Best of three: a loaded host can delay one wake-up, never all three by a whole nap (50 ms).
  const watched = await Promise.all([0, 1, 2].map(() => followEndsAfterExit(true)));
  for (const w of watched) assert.deepEqual(w.lines, ['hello']);
  const best = Math.min(...watched.map((w) => w.lagMs));
  assert.ok(best < 25, `follow ended ${best.toFixed(1)} ms after the exit was written`);
});

test('log follow: without the exit folder watched it still ends, after at most one nap', async () => {
  const r = await followEndsAfterExit(false);
  assert.deepEqual(r.lines, ['hello']);
  assert.ok(r.lagMs < 1000);
});

test('log follow: a writer whose end changes no watched file (a VM\'s QEMU) ends the follow when writerGone settles, not one nap later', async () => {
  const once = async (): Promise<{ lines: string[]; lagMs: number }> => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-log-follow-'));
    try {
      const log = path.join(dir, 'workload.log');
      fs.writeFileSync(log, '2026-11-30T21:00:00.000000000Z stdout F hello\n');
      let gone = false;
      let goneAt = 0;
      const writerGone = new Promise<void>((resolve) => setTimeout(() => {
        gone = true;
        goneAt = performance.now();
        resolve();
      }, 8));
      const lines: string[] = [];
      for await (const e of readK8sLog(log, true, () => gone, undefined, [], writerGone)) lines.push(e.text);
      return { lines, lagMs: performance.now() - goneAt };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  // Best of three, as above: without writerGone each follow ends at its 50 ms nap.
  const runs = await Promise.all([0, 1, 2].map(() => once()));
  for (const r of runs) assert.deepEqual(r.lines, ['hello']);
  const best = Math.min(...runs.map((r) => r.lagMs));
  assert.ok(best < 25, `follow ended ${best.toFixed(1)} ms after the writer was gone`);
});
