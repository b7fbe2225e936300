import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../../src/util/random.js';
import { BIN, hostLeftovers, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';

/**
 * Fault injection: the CLI is killed (SIGKILL, or Ctrl-C) at a random moment of create, start,
 * run, rm, import, pull and compare, across the three kinds. After every kill, `isola ps -a`,
 * `rm -f` of what it lists and `system prune` must leave the whole host as it was: no mount
 * under the data root, no isola network namespace, device, bridge, nftables rule or cgroup, no
 * conmon, QEMU, jail or forwarder process, no virtiofsd, no network left listed, no file under
 * instances/, run/, tmp/ or the store's temp area, and (rm -v) no anonymous volume.
 *
 * The moments come from a reproducible generator; a failure prints its random start to replay it:
 *   ISOLA_FAULT_START=<start> node --test dist/test/integration/reliability/crash.test.js
 */
const START = process.env.ISOLA_FAULT_START !== undefined ? Number(process.env.ISOLA_FAULT_START) : Math.floor(Math.random() * 2 ** 31);

interface Scenario {
  name: string;
  runs: number;
  /** Kill within [0, windowMs): about as long as the verb takes here. */
  windowMs: number;
  /** Makes what the verb acts on; returns its argv. */
  argv: (n: number) => Promise<string[]>;
  /** Ctrl-C instead of SIGKILL on some runs (the verbs that handle it). */
  sigint?: boolean;
}

describe('fault injection: a CLI killed at any moment leaks nothing', { timeout: 30 * 60_000 }, () => {
  let fx: Fixture;
  let registry: TestRegistry;
  let tarball = '';
  let shares = '';
  const rnd = seededRandom(START);
  const report: { scenario: string; signal: string; atMs: number; finished: boolean; leaks: string[] }[] = [];
  const cli = (args: string[], timeoutMs = 180_000) => isola(fx.root, args, { timeoutMs });

  before(async () => {
    fx = await makeFixture();
    registry = await startRegistry();
    // An image of its own with 8 MiB of random content, in the registry and not in the store,
    // so every pull downloads (and can be cut mid-blob).
    const tree = path.join(fx.root, 'random-tree');
    fs.mkdirSync(path.join(tree, 'data'), { recursive: true });
    await runCmd('sh', ['-c', `head -c 8388608 /dev/urandom > ${tree}/data/noise`]);
    tarball = path.join(fx.root, 'random.tar');
    shares = path.join(fx.root, 'shared-folder');
    fs.mkdirSync(shares);
    await runCmd('tar', ['-C', tree, '-cf', tarball, '.']);
    assert.equal((await cli(['import', tarball, 'noise:1'])).code, 0);
    assert.equal((await cli(['tag', 'noise:1', `${registry.host}/fault/noise:1`])).code, 0);
    const pushed = await cli(['push', `${registry.host}/fault/noise:1`]);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal((await cli(['rmi', 'noise:1', `${registry.host}/fault/noise:1`])).code, 0);
  });

  after(async () => {
    await registry?.stop();
    const killed = report.filter((r) => !r.finished).length;
    const leaks = report.flatMap((r) => r.leaks.map((l) => `${r.scenario} (${r.signal} at ${r.atMs} ms): ${l}`));
    process.stdout.write(`# fault injection: start ${START}, ${report.length} runs, ${killed} killed mid-verb, ${leaks.length} leaks\n`);
    for (const s of [...new Set(report.map((r) => r.scenario))]) {
      const rs = report.filter((r) => r.scenario === s);
      process.stdout.write(`#   ${s}: ${rs.length} runs, ${rs.filter((r) => !r.finished).length} killed mid-verb\n`);
    }
    await fx?.dispose();
  });

  /** Everything isola should have left: nothing (bar the images stored on purpose). */
  async function leftovers(): Promise<string[]> {
    const out: string[] = [...hostLeftovers(fx)];
    for (const d of ['instances', 'tmp']) for (const e of fs.readdirSync(path.join(fx.root, d))) out.push(`file ${d}/${e}`);
    for (const e of fs.readdirSync(path.join(fx.root, 'run'))) if (e !== 'vmm-root' && e !== 'runtime') out.push(`file run/${e}`);
    for (const e of fs.readdirSync(path.join(fx.root, 'images', 'blobs'))) if (e !== 'sha256') out.push(`file images/blobs/${e}`);
    for (const folder of fs.readdirSync(path.join(fx.root, 'cache'))) {
      for (const e of fs.readdirSync(path.join(fx.root, 'cache', folder))) if (e.startsWith('.') || e.endsWith('.lock')) out.push(`file cache/${folder}/${e}`);
    }
    const ps = JSON.parse((await cli(['ps', '-a', '--json'])).stdout || '[]') as unknown[];
    if (ps.length) out.push(`${ps.length} instance(s) still listed`);
    // rm -v took every anonymous volume; the named one stays, as it should.
    const vols = JSON.parse((await cli(['volume', 'ls', '--json'])).stdout || '[]') as { Name: string }[];
    for (const v of vols) if (v.Name !== 'fvol') out.push(`volume ${v.Name}`);
    if (fs.existsSync(path.join(fx.root, 'volumes'))) for (const e of fs.readdirSync(path.join(fx.root, 'volumes'))) if (e !== 'fvol') out.push(`file volumes/${e}`);
    const nets = (JSON.parse((await cli(['network', 'ls', '--json'])).stdout || '[]') as { Name: string }[]).filter((x) => x.Name !== 'bridge' && x.Name !== 'none');
    if (nets.length) out.push(`network(s) ${nets.map((x) => x.Name).join(', ')} still listed`);
    return out;
  }

  /** What a user does after a crash: list, remove what is listed, prune. */
  async function recover(): Promise<void> {
    const listed = JSON.parse((await cli(['ps', '-a', '--json'])).stdout || '[]') as { id: string }[];
    if (listed.length) {
      const r = await cli(['rm', '-f', '-v', ...listed.map((l) => l.id)]);
      assert.equal(r.code, 0, `rm -f of what ps -a lists: ${r.stderr}`);
    }
    const p = await cli(['system', 'prune']);
    assert.equal(p.code, 0, `system prune: ${p.stderr}`);
    await cli(['rmi', `${registry.host}/fault/noise:1`]); // a pull that finished
  }

  /** Runs the CLI and kills it at `atMs`; resolves whether it had finished by itself. */
  function killAt(argv: string[], atMs: number, signal: NodeJS.Signals): Promise<boolean> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...argv], { env: { ...process.env, ISOLA_ROOT: fx.root }, stdio: 'ignore' });
      let finished = false;
      const timer = setTimeout(() => child.kill(signal), atMs);
      child.on('exit', () => {
        finished = !child.killed;
        clearTimeout(timer);
        // A Ctrl-C'd verb ends on its own; give it the time it takes.
        resolve(finished);
      });
    });
  }

  const detached = (kind: string) => async (n: number) => ['run', '-d', '--as', kind, '--name', `f${n}`, 'base', 'sleep', '600'];
  const scenarios: Scenario[] = [
    { name: 'container: run --rm', runs: 8, windowMs: 500, sigint: true, argv: async () => ['run', '--rm', 'base', 'sh', '-c', 'echo hi; sleep 0.2'] },
    { name: 'container: run -d -p', runs: 8, windowMs: 500, argv: async (n) => ['run', '-d', '--name', `f${n}`, '-p', `127.0.0.1:${20000 + n}:80`, 'base', 'sleep', '600'] },
    { name: 'network create', runs: 6, windowMs: 300, argv: async (n) => ['network', 'create', `net${n}`] },
    {
      name: 'container: run -d -p on a user network', runs: 6, windowMs: 600, argv: async (n) => {
        assert.equal((await cli(['network', 'create', `net${n}`])).code, 0);
        return ['run', '-d', '--name', `f${n}`, '--network', `net${n}`, '-p', `127.0.0.1:${21000 + n}:80`, '-p', `${22000 + n}:53/udp`, 'base', 'sleep', '600'];
      },
    },
    { name: 'container: create', runs: 5, windowMs: 300, argv: async (n) => ['create', '--name', `f${n}`, 'base', 'true'] },
    {
      name: 'container: start', runs: 5, windowMs: 300, argv: async (n) => {
        assert.equal((await cli(['create', '--name', `f${n}`, 'base', 'sleep', '600'])).code, 0);
        return ['start', `f${n}`];
      },
    },
    {
      name: 'container: rm -f', runs: 5, windowMs: 300, argv: async (n) => {
        assert.equal((await cli(await detached('container')(n))).code, 0);
        return ['rm', '-f', `f${n}`];
      },
    },
    // A workload that keeps failing, restarted by its exit command and checked by its health
    // checker, so a kill can land while a restart waits for its back-off or a check runs.
    {
      name: 'container: run -d --restart always --health-cmd', runs: 5, windowMs: 1500, argv: async (n) => [
        'run', '-d', '--name', `f${n}`, '--network', 'none', '--restart', 'always', '--health-cmd', 'true', '--health-interval', '200ms', 'base', 'sh', '-c', 'sleep 0.3; exit 1',
      ],
    },
    { name: 'vm: run -d', runs: 6, windowMs: 2500, argv: detached('vm') },
    // The VM's exit watcher runs the exit command, which restarts it.
    { name: 'vm: run -d --restart always', runs: 3, windowMs: 5000, argv: async (n) => ['run', '-d', '--as', 'vm', '--name', `f${n}`, '--network', 'none', '--restart', 'always', 'base', 'sh', '-c', 'sleep 1; exit 1'] },
    { name: 'vm: run --rm', runs: 3, windowMs: 2500, sigint: true, argv: async () => ['run', '--rm', '--as', 'vm', 'base', 'sh', '-c', 'echo hi; sleep 1'] },
    {
      name: 'vm: rm -f', runs: 3, windowMs: 1500, argv: async (n) => {
        assert.equal((await cli(await detached('vm')(n))).code, 0);
        return ['rm', '-f', `f${n}`];
      },
    },
    { name: 'hybrid: run -d', runs: 4, windowMs: 4500, argv: detached('hybrid') },
    // Shared folders: a virtiofsd per folder starts before QEMU and must go with the VM.
    { name: 'container: run -d -v', runs: 3, windowMs: 500, argv: async (n) => ['run', '-d', '--name', `f${n}`, '-v', `${shares}:/data:ro`, '-v', 'fvol:/v', '-v', '/anon', 'base', 'sleep', '600'] },
    { name: 'vm: run -d -v', runs: 5, windowMs: 2500, argv: async (n) => ['run', '-d', '--as', 'vm', '--name', `f${n}`, '-v', `${shares}:/data:ro`, '-v', 'fvol:/v', '-v', '/anon', 'base', 'sleep', '600'] },
    { name: 'hybrid: run -d -v', runs: 2, windowMs: 4500, argv: async (n) => ['run', '-d', '--as', 'hybrid', '--name', `f${n}`, '-v', `${shares}:/data`, 'base', 'sleep', '600'] },
    { name: 'hybrid: create', runs: 2, windowMs: 1000, argv: async (n) => ['create', '--as', 'hybrid', '--name', `f${n}`, 'base', 'true'] },
    { name: 'import', runs: 3, windowMs: 800, argv: async (n) => ['import', tarball, `imported:${n}`] },
    { name: 'pull', runs: 3, windowMs: 600, argv: async () => ['pull', '-q', `${registry.host}/fault/noise:1`] },
    { name: 'compare --quick', runs: 2, windowMs: 8000, sigint: true, argv: async () => ['compare', '--quick', '--kinds', 'container', '--runs', '2'] },
  ];

  let n = 0;
  for (const sc of scenarios) {
    test(sc.name, async () => {
      for (let i = 0; i < sc.runs; i++) {
        const argv = await sc.argv(n++);
        // Some kills land in the first milliseconds, where a process is mid-start.
        const atMs = Math.round(rnd() < 0.2 ? rnd() * 50 : rnd() * sc.windowMs);
        const signal: NodeJS.Signals = sc.sigint && rnd() < 0.3 ? 'SIGINT' : 'SIGKILL';
        const finished = await killAt(argv, atMs, signal);
        await sleep(100); // what the killed process had started settles (a conmon's exit command)
        await recover();
        const leaks = await leftovers();
        report.push({ scenario: sc.name, signal, atMs, finished, leaks });
        assert.deepEqual(leaks, [], `${sc.name}: ${signal} at ${atMs} ms (start ${START}) left: ${leaks.join('; ')}`);
      }
    });
  }

  test('at least 50 runs, most of them killed mid-verb', () => {
    assert.ok(report.length >= 50, `${report.length} runs`);
    assert.ok(report.filter((r) => !r.finished).length >= 30, `${report.filter((r) => !r.finished).length} killed mid-verb`);
  });
});
