import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseIoAll, probeBinary } from '../../../src/bench/probe-binary.js';
import { SEQ_REPEAT, seqFigure, seqRepeat } from '../../../src/bench/scenarios/io.js';
import { run } from '../../../src/util/exec.js';

/**
 * The sequential-read rows' method: where O_DIRECT reads reach the disk with nothing caching them
 * (native, container), several reads per call whose median is the round's figure.
 */

test('seqFigure: the median throughput of a call\'s reads, so one fast read does not set the round', () => {
  const mib = 1024 * 1024;
  // 16 MiB in 14 ms, 14 ms and 7 ms (the device served one read twice as fast).
  const reads = [{ bytes: 16 * mib, ns: 14e6 }, { bytes: 16 * mib, ns: 7e6 }, { bytes: 16 * mib, ns: 14e6 }];
  assert.ok(Math.abs(seqFigure(reads) - 16 / 0.014) < 1e-6);
  assert.ok(Math.abs(seqFigure([reads[1] as { bytes: number; ns: number }]) - 16 / 0.007) < 1e-6);
});

test('parseIoAll: every read line, or null when there is none or one is malformed', () => {
  assert.deepEqual(parseIoAll('direct=1 bytes=10 ns=5\ndirect=0 bytes=10 ns=4\n'), [{ direct: true, bytes: 10, ns: 5 }, { direct: false, bytes: 10, ns: 4 }]);
  assert.equal(parseIoAll(''), null);
  assert.equal(parseIoAll('direct=1 bytes=10 ns=5\nread: Input/output error\n'), null);
});

test('seqRepeat: several reads where nothing caches them (native, container), one where the host page cache would serve a repeat (vm, hybrid)', () => {
  assert.ok(SEQ_REPEAT >= 3);
  assert.equal(seqRepeat('native'), SEQ_REPEAT);
  assert.equal(seqRepeat('container'), SEQ_REPEAT);
  assert.equal(seqRepeat('vm'), 1);
  assert.equal(seqRepeat('hybrid'), 1);
});

test('isola-bench seqread FILE REPEAT: one line per read; bad arguments fail', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-seq-'));
  try {
    const helper = await probeBinary(dir);
    const file = path.join(dir, 'io.dat');
    const w = await run(helper, ['write', file, '2']);
    assert.equal(w.code, 0, w.stderr);
    const three = await run(helper, ['seqread', file, '3']);
    assert.equal(three.code, 0, three.stderr);
    const c = parseIoAll(three.stdout);
    assert.equal(c?.length, 3);
    assert.ok(c?.every((x) => x.bytes === 2 * 1024 * 1024 && x.ns > 0));
    const once = await run(helper, ['seqread', file]);
    assert.equal(parseIoAll(once.stdout)?.length, 1, 'without MODE and REPEAT: one read, as before');
    const badRepeat = await run(helper, ['seqread', file, '0']);
    assert.equal(badRepeat.code, 2);
    assert.match(badRepeat.stderr, /REPEAT must be at least 1/);
    const missing = await run(helper, ['seqread', path.join(dir, 'nope'), '1']);
    assert.equal(missing.code, 1);
    assert.equal(parseIoAll(missing.stdout), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
