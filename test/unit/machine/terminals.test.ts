import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { readyFilter } from '../../../src/drivers/machine/terminals.js';
import { markTerminals, noTerminals, servesTerminals } from '../../../src/drivers/machine/terminal-mark.js';

const sink = () => {
  const got: Buffer[] = [];
  return { w: new Writable({ write: (c: Buffer, _e, cb) => { got.push(c); cb(); } }), text: () => Buffer.concat(got).toString() };
};
const write = (w: Writable, s: string) => new Promise<void>((r) => w.write(Buffer.from(s), () => r()));

test('the relay\'s "ready" line, split over writes, resolves ready and is not the workload\'s stderr; what follows is', async () => {
  const out = sink();
  const f = readyFilter(out.w);
  let ready = false;
  void f.ready.then(() => (ready = true));
  await write(f.sink, 'rea');
  await new Promise((r) => setImmediate(r));
  assert.equal(ready, false);
  await write(f.sink, 'dy\nto-err');
  await write(f.sink, ' more\n');
  await f.ready;
  assert.equal(out.text(), 'to-err more\n');
});

test('what the relay said instead of "ready" is its error, passed on to nobody', async () => {
  const out = sink();
  const f = readyFilter(out.w);
  await write(f.sink, 'isola-tty-relay: connect /run/isola/x/attach: No such file or directory\n');
  assert.equal(f.said(), 'connect /run/isola/x/attach: No such file or directory');
  assert.equal(out.text(), '');
});

test('a machine folder is marked as serving terminals; one without the mark is refused in one line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtty-'));
  try {
    assert.equal(servesTerminals(dir), false);
    markTerminals(dir);
    assert.equal(servesTerminals(dir), true);
    const e = noTerminals('dev', '-t');
    assert.equal(e.code, 'FAILED_PRECONDITION');
    assert.doesNotMatch(e.oneLine(), /\n/);
    assert.match(e.oneLine(), /-t is not available in machine dev: it was made before terminals reached machines/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
