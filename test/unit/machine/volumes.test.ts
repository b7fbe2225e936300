import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceSpec } from '../../../src/core/types.js';
import { hostBinds, mountsUnder, volumeRoot } from '../../../src/drivers/machine/volumes.js';
import { guestShareSources } from '../../../src/drivers/hybrid/launch.js';

test('a machine\'s volume binds: found in the mount table below its folder (escaped names, deepest first), numbered as the guest config numbers them', () => {
  const info = [
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '90 27 254:0 /r/m/v /r/m/v rw,relatime shared:5 - ext4 /dev/vda rw',
    '91 90 254:0 /home/a\\040b /r/m/v/abc/0 rw,relatime shared:5 - ext4 /dev/vda rw',
    '92 27 254:0 /x /r/m/vx rw,relatime - ext4 /dev/vda rw',
  ].join('\n');
  assert.deepEqual(mountsUnder(volumeRoot('/r/m'), info), ['/r/m/v/abc/0', '/r/m/v']);
  assert.deepEqual(mountsUnder('/r/m/v/abc', info), ['/r/m/v/abc/0']);
  assert.deepEqual(mountsUnder('/r/m/v/ab', info), [], 'a prefix of a name is not below it');
  const spec = { mounts: [
    { type: 'bind', source: '/h/a', target: '/a', readOnly: false, propagation: 'rprivate' },
    { type: 'tmpfs', target: '/t', readOnly: false },
    { type: 'volume', source: '/v/_data', target: '/b', readOnly: true, propagation: 'rprivate', volume: 'v' },
  ] } as unknown as InstanceSpec;
  assert.deepEqual(hostBinds(spec), [{ source: '/h/a', readOnly: false }, { source: '/v/_data', readOnly: true }]);
  assert.deepEqual([...guestShareSources(spec).values()], ['/.isola/shares/0', '/.isola/shares/1'], 'the same numbering as the config\'s sources');
});
