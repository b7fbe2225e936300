import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import type { InstanceSpec, Kind, LogEntry, StoredData } from '../../src/core/types.js';
import type { AnyDriver } from '../../src/drivers/driver.js';
import { isIsolaError } from '../../src/core/errors.js';
import { ensureDirs, hostLeftovers, makeFixture, specFor, type Fixture } from '../helpers/fixture.js';
import { Engine } from '../../src/engine/engine.js';
import { defaultRunRequest, type RunRequest } from '../../src/engine/request.js';
import { lifeOf, type InstanceRecord } from '../../src/state/instances.js';

/**
 * The one contract every Driver passes: the same lifecycle, output, exit status, exec, stats,
 * network and cleanup behaviour, whatever the isolation kind. A driver that cannot do
 * something yet lists the test in `skip` with the reason, so gaps are visible, not silent.
 */
export interface ContractOptions {
  skip?: { reason: string; tests: string[] }[];
  /** Seconds to allow one instance to boot and run a trivial command (VMs under TCG need more). */
  timeoutSec?: number;
  /** Seconds a kill may take to end the workload once the stop timeout has passed (a VM's guest must power off). */
  stopGraceSec?: number;
}

export function runDriverContract(kind: Kind, opts: ContractOptions = {}): void {
  const timeout = (opts.timeoutSec ?? 30) * 1000;
  const skipReason = (name: string) => opts.skip?.find((s) => s.tests.includes(name))?.reason;
  let fx: Fixture;
  let driver: AnyDriver;
  let engine: Engine;
  const made: string[] = [];

  const it = (name: string, fn: () => Promise<void>) => {
    const reason = skipReason(name);
    test(name, reason ? { skip: reason, timeout } : { timeout }, fn);
  };

  /** Creates and starts an instance; always cleaned up and removed, even when the test fails. */
  async function withInstance<T>(over: Partial<InstanceSpec>, fn: (spec: InstanceSpec, data: StoredData) => Promise<T>): Promise<T> {
    const spec = specFor(fx, driver.kind, over);
    made.push(spec.id);
    ensureDirs(spec);
    let data: StoredData | null = null;
    try {
      data = await driver.create(spec);
      data = await driver.start(spec, data);
      return await fn(spec, data);
    } finally {
      if (data) await driver.stop(spec, data, 0).catch(() => undefined);
      await driver.cleanup(spec, data);
      await driver.remove(spec, data);
    }
  }

  async function collectLogs(spec: InstanceSpec, data: StoredData): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    for await (const e of driver.logs(spec, data, { follow: false })) out.push(e);
    return out;
  }

  const text = (entries: LogEntry[], stream: 'stdout' | 'stderr') => entries.filter((e) => e.stream === stream).map((e) => e.text).join('\n');

  describe(`driver contract: ${kind}`, () => {
    before(async () => {
      fx = await makeFixture();
      driver = fx.drivers.get(kind);
      const cap = await driver.probe();
      assert.ok(cap.ok, `${kind} must be usable on this host: ${cap.reason}`);
      engine = new Engine(fx.config);
    });
    after(async () => {
      engine?.close();
      await fx?.dispose();
    });

    it('runs the command and keeps stdout and stderr apart', async () => {
      await withInstance({ argv: ['sh', '-c', 'echo to-out; echo to-err >&2'] }, async (spec, data) => {
        const exit = await driver.wait(spec, data);
        assert.equal(exit.exitCode, 0);
        const logs = await collectLogs(spec, data);
        assert.equal(text(logs, 'stdout'), 'to-out');
        assert.equal(text(logs, 'stderr'), 'to-err');
      });
    });

    it('reports the workload exit status', async () => {
      await withInstance({ argv: ['sh', '-c', 'exit 7'] }, async (spec, data) => {
        assert.equal((await driver.wait(spec, data)).exitCode, 7);
        const seen = await driver.observe(spec, data);
        assert.equal(seen.state, 'exited');
        assert.equal(seen.state === 'exited' && seen.exit.exitCode, 7);
      });
    });

    it('applies env, workdir, user and hostname', async () => {
      await withInstance(
        { argv: ['sh', '-c', 'echo "$GREETING"; pwd; id -u; hostname'], env: ['PATH=/bin:/usr/bin', 'GREETING=hi there'], workdir: '/tmp', user: '65534', hostname: 'contract-host' },
        async (spec, data) => {
          await driver.wait(spec, data);
          assert.deepEqual(text(await collectLogs(spec, data), 'stdout').split('\n'), ['hi there', '/tmp', '65534', 'contract-host']);
        },
      );
    });

    it('execs in a running instance with its own output and status', async () => {
      await withInstance({ argv: ['sleep', '600'] }, async (spec, data) => {
        const out = new PassThrough();
        const err = new PassThrough();
        let o = '';
        let e = '';
        out.on('data', (d: Buffer) => (o += d.toString()));
        err.on('data', (d: Buffer) => (e += d.toString()));
        const code = await driver.exec(spec, data, ['sh', '-c', 'echo in-exec; echo oops >&2; exit 3'], { stdout: out, stderr: err });
        assert.equal(code, 3);
        assert.equal(o.trim(), 'in-exec');
        assert.equal(e.trim(), 'oops');
        await assert.rejects(driver.exec(spec, data, ['no-such-command'], { stdout: out, stderr: err }), (x) => isIsolaError(x, 'COMMAND_NOT_FOUND'));
      });
    });

    it('stops a workload that ignores SIGTERM within the timeout', async () => {
      await withInstance({ argv: ['sh', '-c', 'trap "" TERM; echo trapped; while true; do sleep 1; done'] }, async (spec, data) => {
        // Only once the shell ignores TERM does the timeout matter (a slow guest may not be there yet).
        await retry(async () => assert.equal(text(await collectLogs(spec, data), 'stdout'), 'trapped'), timeout / 2);
        const t0 = Date.now();
        await driver.stop(spec, data, 1);
        const exit = await driver.wait(spec, data);
        const took = Date.now() - t0;
        const grace = (opts.stopGraceSec ?? 2) * 1000;
        assert.ok(took >= 900, `it waited for the 1 s timeout before killing (took ${took} ms)`);
        assert.ok(took < 1000 + grace, `stopped within the 1 s timeout plus ${grace} ms to kill (took ${took} ms)`);
        assert.notEqual(exit.exitCode, 0);
        assert.equal((await driver.observe(spec, data)).state, 'exited');
      });
    });

    it('follows logs while the workload writes them and ends when it exits', async () => {
      await withInstance({ argv: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done'] }, async (spec, data) => {
        const lines: string[] = [];
        for await (const e of driver.logs(spec, data, { follow: true })) lines.push(e.text);
        assert.deepEqual(lines, ['line1', 'line2', 'line3']);
      });
    });

    it('reports stats of a running instance', async () => {
      await withInstance({ argv: ['sh', '-c', 'while true; do :; done'] }, async (spec, data) => {
        await sleep(500);
        const a = await driver.stats(spec, data);
        await sleep(500);
        const b = await driver.stats(spec, data);
        assert.ok(b.memoryBytes > 0, 'memory in use is reported');
        assert.ok(b.cpuNanos > a.cpuNanos, 'CPU time grows while the workload spins');
      });
    });

    it('is reachable from the host by its IP on the bridge', async () => {
      await withInstance({ argv: ['sh', '-c', 'echo ready; while true; do echo pong | nc -l -p 7777; done'] }, async (spec) => {
        assert.equal(spec.network.mode, 'bridge');
        const ip = spec.network.mode === 'bridge' ? spec.network.ip : '';
        const reply = await retry(() => tcpRead(ip, 7777), timeout / 2);
        assert.equal(reply.trim(), 'pong');
      });
    });

    it('has only loopback with --network none', async () => {
      await withInstance({ argv: ['sh', '-c', 'ls /sys/class/net'], network: { mode: 'none' } }, async (spec, data) => {
        await driver.wait(spec, data);
        const ifaces = text(await collectLogs(spec, data), 'stdout').split(/\s+/).filter(Boolean);
        assert.deepEqual(ifaces.filter((i) => !/^(sit|tunl|ip6tnl|gre|erspan|ip_vti|ip6_vti)/.test(i)), ['lo']);
      });
    });

    it('keeps the root read-only with readOnly', async () => {
      await withInstance({ argv: ['sh', '-c', 'touch /x 2>/dev/null && echo wrote || echo refused'], readOnly: true }, async (spec, data) => {
        await driver.wait(spec, data);
        assert.equal(text(await collectLogs(spec, data), 'stdout'), 'refused');
      });
    });

    it('leaves nothing behind after cleanup and remove', async () => {
      let spec: InstanceSpec | undefined;
      await withInstance({ argv: ['sleep', '600'] }, async (s) => {
        spec = s;
      });
      assert.ok(spec);
      assert.deepEqual(hostLeftovers(fx), []);
      assert.equal(fs.existsSync(spec.dir), false);
      assert.equal(fs.existsSync(spec.runDir), false);
    });


    // ---- lifecycle, through the engine (docs/LIFECYCLE.md): the same for every kind ----

    /** A detached instance run by the engine (its exit command, watcher and checker are real); always removed. */
    async function withRunning(argv: string[], over: Partial<RunRequest>, fn: (id: string) => Promise<void>): Promise<void> {
      const req: RunRequest = { ...defaultRunRequest('base', argv), kind, network: 'none', detach: true, ...over };
      const { rec } = await engine.run(req, new PassThrough(), new PassThrough());
      try {
        await fn(rec.id);
      } finally {
        await engine.remove(rec.id, true).catch(() => undefined);
      }
    }

    const get = (id: string): InstanceRecord => {
      const r = engine.instances.get(id);
      assert.ok(r, `instance ${id} exists`);
      return r;
    };

    async function logText(id: string): Promise<string> {
      const out: string[] = [];
      for await (const e of engine.logs(get(id), false)) if (e.stream === 'stdout') out.push(e.text);
      return out.join('\n');
    }

    const actions = (id: string) => engine.events.list().filter((e) => e.actorId === id).map((e) => e.action);

    it('restart on-failure brings a failing workload back N times, then stops', async () => {
      await withRunning(['sh', '-c', 'echo run; exit 3'], { restart: { name: 'on-failure', maxRetries: 2 } }, async (id) => {
        await until(() => {
          const r = get(id);
          return r.state === 'exited' && lifeOf(r).restartCount === 2 && lifeOf(r).restart === null && r.cleaned;
        }, timeout, 'two restarts, then exited');
        await sleep(500);
        const r = get(id);
        assert.equal(r.exitCode, 3);
        assert.equal(lifeOf(r).restartCount, 2, 'no third restart');
        assert.equal(r.state, 'exited');
        assert.deepEqual((await logText(id)).split('\n'), ['run', 'run', 'run'], 'the same instance ran three times, its log kept');
        assert.equal(actions(id).filter((a) => a === 'die').length, 3);
        assert.equal(actions(id).filter((a) => a === 'restart').length, 2);
      });
    });

    it('restart always brings back a workload killed from inside, and a stop by the user is final', async () => {
      // sleep in the background: busybox's sh runs a foreground sleep in its own process (no fork).
      await withRunning(['sh', '-c', 'echo up; sleep 600 & wait'], { restart: { name: 'always', maxRetries: 0 } }, async (id) => {
        await until(() => get(id).state === 'running', timeout, 'running');
        await until(async () => (await logText(id)) === 'up', timeout / 2, 'the workload is up');
        await engine.exec(id, ['killall', 'sleep'], { stdout: new PassThrough(), stderr: new PassThrough() });
        await until(async () => get(id).state === 'running' && lifeOf(get(id)).restartCount === 1 && (await logText(id)) === 'up\nup', timeout, 'restarted once');
        await engine.stop(id, 1);
        await sleep(1500);
        const r = get(id);
        assert.equal(r.state, 'exited', 'stopped by the user: not restarted');
        assert.equal(lifeOf(r).restart, null);
        assert.equal(lifeOf(r).restartCount, 1);
        assert.ok(lifeOf(r).stoppedByUser);
      });
    });

    it('a passing health check makes it healthy, a failing one unhealthy', async () => {
      const health = (cmd: string) => ({ cmd, interval: '300ms', timeout: kind === 'container' ? '5s' : '20s', retries: '2' });
      await withRunning(['sleep', '600'], { health: health('true') }, async (id) => {
        assert.equal(lifeOf(get(id)).health?.status, 'starting');
        await until(() => lifeOf(get(id)).health?.status === 'healthy', timeout, 'healthy');
        const h = lifeOf(get(id)).health;
        assert.equal(h?.failingStreak, 0);
        assert.equal(h?.log.at(-1)?.exitCode, 0);
        await until(() => actions(id).includes('health_status: healthy'), 5000, 'the health_status event');
      });
      await withRunning(['sleep', '600'], { health: health('echo sick; exit 1') }, async (id) => {
        await until(() => lifeOf(get(id)).health?.status === 'unhealthy', timeout, 'unhealthy');
        const h = lifeOf(get(id)).health;
        assert.ok((h?.failingStreak ?? 0) >= 2);
        assert.equal(h?.log.at(-1)?.exitCode, 1);
        assert.equal(h?.log.at(-1)?.output.trim(), 'sick');
        await until(() => actions(id).includes('health_status: unhealthy'), 5000, 'the health_status event');
      });
    });

    it('pause stops progress and unpause resumes it', async () => {
      await withRunning(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done'], {}, async (id) => {
        const count = async () => (await logText(id)).split('\n').filter(Boolean).length;
        await until(async () => (await count()) >= 3, timeout / 2, 'counting');
        await engine.pause(id);
        assert.equal(lifeOf(get(id)).paused, true);
        await sleep(300);
        const frozen = await count();
        await sleep(1200);
        assert.equal(await count(), frozen, 'no progress while paused');
        await engine.unpause(id);
        assert.equal(lifeOf(get(id)).paused, false);
        await until(async () => (await count()) > frozen + 2, timeout / 2, 'counting again');
        await engine.pause(id);
        await engine.remove(id, true); // rm -f of a paused instance works
        assert.deepEqual(actions(id).filter((a) => /pause/.test(a)), ['pause', 'unpause', 'pause', 'unpause']);
      });
    });

    it('stop sends the stop signal', async () => {
      await withRunning(['sh', '-c', 'trap "echo got-usr1; exit 0" USR1; echo ready; while :; do sleep 0.1; done'], { stopSignal: 'SIGUSR1' }, async (id) => {
        await until(async () => (await logText(id)) === 'ready', timeout / 2, 'ready');
        const r = await engine.stop(id, 20);
        assert.equal(r.exitCode, 0, 'it ended by its USR1 trap, not by SIGKILL');
        assert.equal(await logText(id), 'ready\ngot-usr1');
      });
    });

    it('start of an exited instance runs it again on the same root file system', async () => {
      await withRunning(['sh', '-c', 'echo x >> /kept; wc -l < /kept'], {}, async (id) => {
        await until(() => get(id).state === 'exited' && get(id).cleaned, timeout, 'first run over');
        await engine.startInstance(id);
        await until(() => get(id).state === 'exited' && get(id).cleaned && lifeOf(get(id)).runSeq === 1, timeout, 'second run over');
        assert.deepEqual((await logText(id)).split('\n').map((l) => l.trim()), ['1', '2'], 'the file written by the first run was there for the second');
      });
    });

    it('top lists the workload\'s processes', async () => {
      await withRunning(['sleep', '600'], {}, async (id) => {
        await until(() => get(id).state === 'running', timeout, 'running');
        // Right after the start the workload may still be the runtime's init, about to exec it.
        let seen: string[] = [];
        await until(async () => (seen = (await engine.top(id)).processes.map((p) => p.cmd)).includes('sleep 600'), timeout / 2, 'sleep 600 in the list');
        assert.ok(!seen.some((c) => /isola\.js|conmon|qemu/.test(c)), `only the workload's processes: ${seen.join(', ')}`);
      });
    });

    test('no instance of this suite is left on the host', () => {
      assert.deepEqual(hostLeftovers(fx), []);
    });
  });
}

/** Polls until the condition holds; fails naming it after `withinMs`. */
async function until(cond: () => boolean | Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

async function retry<T>(fn: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

function tcpRead(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, timeout: 2000 });
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => (data ? resolve(data) : reject(new Error('empty reply'))));
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}
