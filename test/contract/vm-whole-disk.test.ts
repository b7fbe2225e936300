import path from 'node:path';
import assert from 'node:assert/strict';
import { runDriverContract } from './driver-contract.js';
import { BIN, runCmd } from '../helpers/fixture.js';

// The VM driver booting a whole disk the classic way (q35, SeaBIOS, the disk's syslinux,
// kernel and isola's init on it), made from the base image by `isola export` and stored by
// `isola import-vm`: the same contract as the direct-kernel VM. Each instance's command,
// environment, NICs, /etc files and shared folders reach the disk's init by fw_cfg.
runDriverContract('vm', {
  skip: [{
    // The foreground client's hold and the terminal's size go on the kernel command line, which
    // the disk's bootloader owns; isola refuses -i and -t for a whole disk (one line, exit 125).
    reason: 'a whole disk takes no -i/-t: its kernel command line is its bootloader\'s',
    tests: [
      'runs the workload on a terminal: input, window size, exit status, one stream in the log',
      'follows window size changes of the client',
      'attaches again after a client left, the workload running on meanwhile',
      'passes stdin to a workload without a terminal, stdout and stderr apart',
    ],
  }],
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
