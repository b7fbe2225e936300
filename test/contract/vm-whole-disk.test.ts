import path from 'node:path';
import assert from 'node:assert/strict';
import { runDriverContract } from './driver-contract.js';
import { BIN, runCmd } from '../helpers/fixture.js';

// The VM driver booting a whole disk the classic way (q35, SeaBIOS, the disk's syslinux,
// kernel and isola's init on it), made from the base image by `isola export` and stored by
// `isola import-vm`: the same contract as the direct-kernel VM, no known gaps. Each instance's
// command, environment and address reach the disk's init by fw_cfg.
runDriverContract('vm', {
  stopGraceSec: 8,
  timeoutSec: 90,
  image: {
    variant: 'whole disk, isola export of the base image',
    make: async (fx) => {
      const env = { ...process.env, ISOLA_ROOT: fx.root };
      const disk = path.join(fx.root, 'base.qcow2');
      const ex = await runCmd(process.execPath, [BIN, 'export', '-o', disk, '--free', '64m', 'base', 'true'], { env });
      assert.equal(ex.code, 0, ex.stderr);
      const im = await runCmd(process.execPath, [BIN, 'import-vm', disk, 'base-disk'], { env });
      assert.equal(im.code, 0, im.stderr);
      return fx.store.resolve('base-disk');
    },
  },
});
