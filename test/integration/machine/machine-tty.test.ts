import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, hostLeftovers, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { Tmux } from '../../helpers/tmux.js';
import { assertEngineError } from '../../helpers/engine-error.js';

/**
 * Terminals of containers placed in a machine, through the real CLI and a real pseudo-terminal
 * (a tmux window): `run -it --machine` with typed commands, its /dev/pts and window sizes,
 * detach keys leaving it running, `attach` back to it and its exit status; `run -i --machine`
 * with a pipe, stdout and stderr apart; a third attached client refused while two hold the
 * machine's ports for them, an exec still served meanwhile; a machine made before terminals
 * reached machines refused in one line; nothing left on the host.
 */
const T = { timeout: 300_000 };

describe('terminals of containers in a machine (CLI, real QEMU, tmux)', () => {
  let fx: Fixture;
  const cli = (args: string[], input?: string) =>
    input === undefined ? isola(fx.root, args, { timeoutMs: 200_000 }) : runCmd(process.execPath, [BIN, ...args], { env: { ...process.env, ISOLA_ROOT: fx.root }, input, timeoutMs: 200_000 });
  const ok = async (args: string[], input?: string) => {
    const r = await cli(args, input);
    assert.equal(r.code, 0, `isola ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const refused = async (args: string[], message: RegExp, input?: string) => assertEngineError(await cli(args, input), message);
  const command = (args: string) => `env ISOLA_ROOT=${fx.root} ISOLA_ASSETS=${fx.config.assets} ${process.execPath} ${BIN} ${args}`;
  const state = async (name: string) => (JSON.parse(await ok(['inspect', name])) as { State: { Status: string; ExitCode: number | null } }[])[0]?.State;

  before(async () => {
    fx = await makeFixture();
    await ok(['machine', 'create', 'tm', '-m', '384m', '--cpus', '1']);
  });
  after(async () => {
    await Tmux.stopServer();
    await cli(['machine', 'rm', '-f', 'tm']);
    assert.deepEqual(hostLeftovers(fx), [], 'nothing of the machine or its terminals is left on the host');
    await fx?.dispose();
  });

  test('run -it --machine: typed commands, /dev/pts, window sizes, detach keys; attach back, its exit status; the log', T, async () => {
    const t = await Tmux.start('mtty-run', command('run -it --machine tm --name mt base sh'), { cols: 100, rows: 30 });
    await t.waitFor(/^\/ # ?$/m, 60_000);
    await t.type('tty; stty size');
    await t.waitFor(/^\/dev\/pts\/\d+\n30 100$/m, 20_000);
    await t.resize({ cols: 120, rows: 40 });
    await t.askUntil('stty size', /^40 120$/m, 20_000);
    await t.type('echo first-$((40+2))');
    await t.waitFor(/^first-42$/m, 10_000);
    await t.keys('C-p', 'C-q');
    await t.waitFor(/^RC=0\nicanon$/m, 20_000); // detached: isola ended 0, the terminal cooked again
    assert.equal((await state('mt'))?.Status, 'running', 'detaching left it running');
    await t.kill();

    const a = await Tmux.start('mtty-attach', command('attach mt'), { cols: 90, rows: 20 });
    await a.askUntil('stty size', /^20 90$/m, 30_000);
    await a.type('echo back-$((1+2)); exit 3');
    await a.waitFor(/^back-3\n(.*\n)*RC=3\nicanon$/m, 30_000);
    await a.kill();
    const st = await state('mt');
    assert.equal(st?.Status, 'exited');
    assert.equal(st?.ExitCode, 3, 'attach ended with the workload\'s status, and so did the instance');
    const logs = await cli(['logs', 'mt']);
    assert.match(logs.stdout, /first-42/);
    assert.match(logs.stdout, /back-3/);
    assert.equal(logs.stderr, '', 'a terminal is one stream');
    await ok(['rm', 'mt']);
  });

  test('echo x | run -i --machine: stdin in, stdout and stderr apart, the status out', T, async () => {
    const r = await cli(['run', '--rm', '-i', '--machine', 'tm', 'base', 'sh', '-c', 'cat; echo to-err >&2; exit 6'], 'x\nline two\n');
    assert.equal(r.stdout, 'x\nline two\n');
    assert.equal(r.stderr, 'to-err\n', 'without a terminal stderr stays apart');
    assert.equal(r.code, 6);
  });

  test('two attached clients hold the ports for them; a third is refused in one line; exec still runs', T, async () => {
    await ok(['run', '-d', '-it', '--machine', 'tm', '--name', 'held', 'base', 'sh']);
    const one = await Tmux.start('mtty-one', command('attach held'), { cols: 80, rows: 24 });
    const two = await Tmux.start('mtty-two', command('attach held'), { cols: 80, rows: 24 });
    await one.askUntil('echo one-$((2*3))', /^one-6$/m, 30_000);
    await two.askUntil('echo two-$((3*3))', /^two-9$/m, 30_000);
    const three = await Tmux.start('mtty-three', command('attach held'), { cols: 80, rows: 24 });
    await three.waitFor(/^isola: machine tm already serves 2 attached clients.*\nRC=125\nicanon$/m, 30_000);
    await three.kill();
    const four = await Tmux.start('mtty-four', command('run -it --machine tm --name fourth base sh'), { cols: 80, rows: 24 });
    await four.waitFor(/^isola: machine tm already serves 2 attached clients.*\nRC=125\nicanon$/m, 30_000);
    await four.kill();
    assert.notEqual((await state('fourth'))?.Status, 'running', 'a run whose client found no port did not start its workload');
    await ok(['rm', '-f', 'fourth']);
    assert.equal((await ok(['exec', 'held', 'echo', 'served'])).trim(), 'served', 'the first port stays for other commands');
    await one.keys('C-p', 'C-q');
    await one.waitFor(/^RC=0\nicanon$/m, 20_000);
    await two.keys('C-p', 'C-q');
    await two.waitFor(/^RC=0\nicanon$/m, 20_000);
    await one.kill();
    await two.kill();
    await ok(['rm', '-f', 'held']);
  });

  test('a machine made before terminals reached machines: -i, -t and attach refused in one line, nothing made', T, async () => {
    await ok(['run', '-d', '--machine', 'tm', '--name', 'quiet', 'base', 'sleep', 'infinity']);
    const id = (JSON.parse(await ok(['machine', 'inspect', '--json', 'tm'])) as { id: string }[])[0]?.id ?? '';
    const mark = path.join(fx.root, 'machines', id, 'terminals');
    assert.ok(fs.existsSync(mark), 'a machine made now is marked');
    fs.renameSync(mark, `${mark}.away`); // as a machine made before has it: no mark, no relay on its disk
    try {
      const before = await ok(['ps', '-a', '-q']);
      await refused(['run', '-i', '--machine', 'tm', 'base', 'cat'], /-i is not available in machine tm: it was made before terminals reached machines/, '');
      await refused(['run', '-d', '-t', '--machine', 'tm', 'base', 'sh'], /-t is not available in machine tm: it was made before terminals reached machines.*recreate the machine/);
      await refused(['attach', 'quiet'], /isola attach is not available in machine tm: it was made before terminals reached machines/, '');
      assert.equal(await ok(['ps', '-a', '-q']), before, 'nothing was made');
    } finally {
      fs.renameSync(`${mark}.away`, mark);
    }
    await ok(['rm', '-f', 'quiet']);
  });
});
