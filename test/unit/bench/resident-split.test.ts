import { test } from 'node:test';
import assert from 'node:assert/strict';
import { residentSplit } from '../../../src/bench/scenarios/guest-kernel.js';

test('QEMU\'s resident memory split: the guest-sized anonymous mapping, the rest anonymous, and file pages', () => {
  const smaps = [
    '55f715453000-55f71585a000 r-xp 00000000 08:01 1234 /usr/bin/qemu-system-x86_64',
    'Size:               4124 kB',
    'Rss:                4096 kB',
    '7fe9e3e00000-7fe9e7e00000 rw-p 00000000 00:00 0 ',
    'Size:              65536 kB',
    'Rss:               20480 kB',
    '7fe9e8000000-7fe9e9000000 rwxp 00000000 00:00 0 ',
    'Size:              16384 kB',
    'Rss:               16384 kB',
    '55f735112000-55f735d23000 rw-p 00000000 00:00 0                          [heap]',
    'Size:               5000 kB',
    'Rss:                5120 kB',
  ].join('\n');
  assert.deepEqual(residentSplit(smaps, 64), { guest: 20, vmmAnon: 21, file: 4 });
  // Without a mapping of the guest's size, all anonymous memory is the VMM's.
  assert.equal(residentSplit(smaps, 128).guest, 0);
});
