import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BIN, isola, makeFixture } from '../../helpers/fixture.js';

// `isola run ... | head`: the reader leaves early. isola must not die of EPIPE with a stack trace;
// it keeps waiting for the workload and removes the instance (--rm), as a closed terminal would.
test('a reader that closes the pipe early: no EPIPE crash, the instance still ends and is removed', async () => {
  const fx = await makeFixture();
  try {
    const child = spawn(process.execPath, [BIN, 'run', '--rm', 'base', 'sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done'], {
      env: { ...process.env, ISOLA_ROOT: fx.root }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled|at /);
    assert.equal((await isola(fx.root, ['ps', '-a', '-q'])).stdout.trim(), '', 'removed by --rm');
  } finally {
    await fx.dispose();
  }
});
