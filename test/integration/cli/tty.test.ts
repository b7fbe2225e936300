import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { BIN, hostLeftovers, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { Tmux } from '../../helpers/tmux.js';
import { KINDS, type Kind } from '../../../src/core/types.js';
import { readGuestAssets } from '../../../src/guest/assets.js';

/**
 * Terminals end to end, through a real pseudo-terminal (a tmux window): `run -it` with typed
 * commands, the instance's /dev/pts, window sizes following the client's, Ctrl-C reaching the
 * workload, the detach keys leaving it running, `exec -it` into it, `attach` back to it, exit
 * statuses through each, the user's terminal back in cooked mode after each; `run -i` with a
 * pipe. The same for every kind.
 */
const BOOT_MS: Record<Kind, number> = { container: 20_000, vm: 90_000, hybrid: 120_000 };
const T = { timeout: 300_000 };

interface InspectState {
  State: { Status: string; ExitCode: number | null };
}

describe('terminals through a real pty (tmux), every kind', () => {
  let fx: Fixture;
  const cli = (args: string[], input?: string) =>
    input === undefined ? isola(fx.root, args, { timeoutMs: 200_000 }) : runCmd(process.execPath, [BIN, ...args], { env: { ...process.env, ISOLA_ROOT: fx.root }, input, timeoutMs: 200_000 });
  const command = (args: string) => `env ISOLA_ROOT=${fx.root} ISOLA_ASSETS=${fx.config.assets} ${process.execPath} ${BIN} ${args}`;
  const state = async (name: string) => ((JSON.parse((await cli(['inspect', name])).stdout) as InspectState[])[0]?.State);

  before(async () => {
    fx = await makeFixture();
    assert.ok(readGuestAssets(fx.config.assets)?.ttyRelay, 'guest assets with the terminal relay must be set up (npm run bootstrap)');
  });
  after(async () => {
    await Tmux.stopServer();
    const left = await cli(['ps', '-a', '-q']);
    for (const id of left.stdout.split('\n').filter(Boolean)) await cli(['rm', '-f', id]);
    assert.deepEqual(hostLeftovers(fx), [], 'nothing of any terminal is left on the host (relays included)');
    await fx.dispose();
  });

  test('-it without a terminal on stdin is refused, in Docker\'s words, before anything is made', async () => {
    const r = await cli(['run', '-it', 'base', 'sh'], '');
    assert.equal(r.code, 125);
    assert.equal(r.stderr, 'isola: the input device is not a TTY; drop -t to pipe input into the instance (-i alone), or run isola from a terminal\n');
    const e = await cli(['exec', '-it', 'nothing-here', 'sh'], '');
    assert.equal(e.code, 125);
    assert.match(e.stderr, /^isola: the input device is not a TTY;/);
    assert.equal((await cli(['ps', '-a', '-q'])).stdout, '', 'no instance was created');
  });

  test('detach keys that cannot be typed are refused before anything is made', async () => {
    const r = await cli(['run', '-d', '-it', '--detach-keys', 'ctrl-1', 'base', 'sh']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
    assert.match(r.stderr, /^isola: invalid --detach-keys "ctrl-1": ctrl-1 is not a control key; use ctrl- with a-z/);
    assert.equal((await cli(['ps', '-a', '-q'])).stdout, '');
  });

  for (const kind of KINDS) {
    const name = `tty-${kind}`;

    test(`${kind}: run -it: typed commands, /dev/pts, window size, Ctrl-C to the workload, detach keys`, T, async () => {
      const t = await Tmux.start(name, command(`run -it --as ${kind} --network none --name ${name} base sh`), { cols: 100, rows: 30 });
      await t.waitFor(/^\/ # ?$/m, BOOT_MS[kind]);
      await t.type('tty; stty size');
      await t.waitFor(/^\/dev\/pts\/\d+\n30 100$/m, 20_000);
      await t.resize({ cols: 120, rows: 40 });
      await t.askUntil('stty size', /^40 120$/m, 20_000);
      await t.type('sleep 100');
      await t.waitFor(/sleep 100\n/, 10_000);
      await sleep(500); // the shell has started sleep
      await t.keys('C-c');
      await t.type('echo "slept rc=$?"');
      await t.waitFor(/^slept rc=130$/m, 20_000); // SIGINT ended sleep, not the shell, not isola
      await t.keys('C-p', 'C-q');
      await t.waitFor(/^RC=0\nicanon$/m, 20_000); // detached: isola ended 0, the terminal is cooked again
      assert.equal((await state(name))?.Status, 'running', 'detaching left it running');
      await t.kill();
    });

    test(`${kind}: exec -it into it, then attach gets back to it; exit statuses through both; logs have it`, T, async () => {
      const e = await Tmux.start(`${name}-exec`, command(`exec -it ${name} sh`), { cols: 70, rows: 25 });
      await e.waitFor(/^\/ # ?$/m, 30_000);
      await e.type('tty; stty size');
      await e.waitFor(/^\/dev\/pts\/\d+\n25 70$/m, 20_000);
      await e.resize({ cols: 60, rows: 15 });
      await e.askUntil('stty size', /^15 60$/m, 20_000);
      await e.type('exit 7');
      await e.waitFor(/^RC=7\nicanon$/m, 20_000);
      await e.kill();
      assert.equal((await state(name))?.Status, 'running', 'an exec\'s end is not the instance\'s');

      const a = await Tmux.start(`${name}-attach`, command(`attach ${name}`), { cols: 90, rows: 20 });
      // Output comes from the moment of attaching on: ask until the answer shows.
      await a.askUntil('stty size', /^20 90$/m, 30_000);
      await a.type('echo back-$((1+2)); exit 3');
      await a.waitFor(/^back-3\n(.*\n)*RC=3\nicanon$/m, 30_000);
      await a.kill();
      const st = await state(name);
      assert.equal(st?.Status, 'exited');
      assert.equal(st?.ExitCode, 3, 'attach ended with the workload\'s status, and so did the instance');
      const logs = await cli(['logs', name]);
      assert.match(logs.stdout, /slept rc=130/, 'the log has what the terminal showed');
      assert.match(logs.stdout, /back-3/);
      assert.equal(logs.stderr, '', 'a terminal is one stream');
      await cli(['rm', name]);
    });

    test(`${kind}: echo x | run -i base cat`, T, async () => {
      const r = await cli(['run', '--rm', '-i', '--as', kind, '--network', 'none', 'base', 'sh', '-c', 'cat; echo to-err >&2'], 'x\nline two\n');
      assert.equal(r.stdout, 'x\nline two\n');
      assert.equal(r.stderr, 'to-err\n', 'without a terminal stderr stays apart');
      assert.equal(r.code, 0);
    });
  }
});
