import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHARED_READ } from '../../../src/bench/scenarios/io-shared.js';

/**
 * The shared folder's reads are long enough that one time slice of another process (a few ms)
 * cannot move a round's ratio much: at this host's ~1 GiB/s natively, at least 50 ms of
 * sequential reading and 2000 random reads (about 120 ms), in --quick as in the default run.
 */
test('shared-folder I/O reads at least 64 MiB and 2000 random offsets per round, quick or not', () => {
  const nativeMiBps = 1024;
  assert.ok((SHARED_READ.mib / nativeMiBps) * 1000 >= 50, `${SHARED_READ.mib} MiB lasts under 50 ms at ${nativeMiBps} MiB/s`);
  assert.ok(SHARED_READ.randCount >= 2000);
});
