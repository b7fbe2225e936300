import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { PlacedIn, AttachSession, BridgeNetworkSpec, InstanceSpec, Kind, LogEntry, ResolvedImage, StoredData, TerminalSize } from '../../src/core/types.js';
import type { AnyDriver } from '../../src/drivers/driver.js';
import { isIsolaError } from '../../src/core/errors.js';
import { extractInto } from '../../src/image/unpack.js';
import { ensureDirs, hostLeftovers, makeFixture, specFor, type Fixture } from '../helpers/fixture.js';
import { startOutside, type Outside } from '../helpers/outside.js';
import { ensureBridge, removeBridge } from '../../src/net/bridge.js';
import { cidrText, intToIp, nextFreeSubnet } from '../../src/net/ipam.js';
import { hostRoutes } from '../../src/net/routes.js';
import { macFor } from '../../src/net/names.js';
import { etcFilesFor, readHostResolv, writeEtcFiles, type Peer } from '../../src/net/etc-files.js';
import { Engine } from '../../src/engine/engine.js';
import { defaultRunRequest, type RunRequest } from '../../src/engine/request.js';
import { lifeOf, type InstanceRecord } from '../../src/state/instances.js';
import { createSnapshot, listSnapshots, restoreSnapshot } from '../../src/engine/snapshots.js';
import { Machines } from '../../src/engine/machines.js';

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
  /** The image every instance runs (default: the base image); `variant` names it in the suite's title. */
  image?: { variant: string; make: (fx: Fixture) => Promise<ResolvedImage> };
  /**
   * VM and hybrid: the guest kernel the suite boots (ISOLA_VM_KERNEL), named in its title, and
   * what `uname -r` says in the guest under it: the suite checks that kernel is the one that ran.
   */
  kernel?: { choice: 'isola' | 'cloud'; release: RegExp };
  /**
   * hybrid only: every instance is placed in one machine (`run --machine`) the suite creates
   * first, instead of a VM of its own; the instance has its own address, which the machine routes.
   */
  machine?: boolean;
}

export function runDriverContract(kind: Kind, opts: ContractOptions = {}): void {
  const timeout = (opts.timeoutSec ?? 30) * 1000;
  const skipReason = (name: string) => opts.skip?.find((s) => s.tests.includes(name))?.reason;
  let fx: Fixture;
  let driver: AnyDriver;
  let image: ResolvedImage | undefined;
  let engine: Engine;
  const made: string[] = [];
  let outside: Outside;
  let machines: Machines | undefined;
  let placedIn: (PlacedIn & { network: BridgeNetworkSpec }) | undefined;
  // A placed container has a network namespace of its own in the guest, with its own address on isola0.
  const placed = (): Partial<InstanceSpec> => (placedIn ? { machine: { id: placedIn.id, name: placedIn.name, ip: placedIn.ip, netns: true } } : {});
  // A user network of the suite's own: a bridge on a free /24, as `isola network create` makes one.
  const userNet = nextFreeSubnet(hostRoutes().map((r) => r.dest));
  const userBridge = `isolabr-c${process.pid.toString(16)}`.slice(0, 15);
  const userIface = (id: string, ip: string, ifname: string): BridgeNetworkSpec => ({
    mode: 'bridge', bridge: userBridge, ip, prefixLength: 24, gateway: intToIp(userNet.base + 1), mac: macFor(id, ifname), networkId: 'contract', networkName: 'contract', ifname,
  });

  const it = (name: string, fn: () => Promise<void>) => {
    const reason = skipReason(name);
    test(name, reason ? { skip: reason, timeout } : { timeout }, fn);
  };

  /**
   * Creates and starts an instance; always cleaned up and removed, even when the test fails.
   * `over` may depend on the instance's id (its MAC on a network); `peers` go into its /etc/hosts
   * as the engine writes them for the other instances of its user networks.
   */
  async function withInstance<T>(over: Partial<InstanceSpec> | ((id: string) => Partial<InstanceSpec>), fn: (spec: InstanceSpec, data: StoredData) => Promise<T>, peers: Peer[] = []): Promise<T> {
    const base = specFor(fx, driver.kind, image ? { image } : {});
    const spec = { ...base, ...placed(), ...(typeof over === 'function' ? over(base.id) : over) };
    made.push(spec.id);
    ensureDirs(spec);
    if (peers.length) writeEtcFiles(spec, etcFilesFor(spec, peers, readHostResolv()));
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

  /**
   * Like withInstance, but started with a client attached (a foreground run -i/-t): `io` is the
   * client's end: what it types, what it has read so far, and the session.
   */
  async function withAttached<T>(over: Partial<InstanceSpec>, size: TerminalSize | null,
    fn: (spec: InstanceSpec, data: StoredData, io: Client) => Promise<T>): Promise<T> {
    const spec = specFor(fx, driver.kind, { ...(image ? { image } : {}), ...placed(), ...over });
    made.push(spec.id);
    ensureDirs(spec);
    let data: StoredData | null = null;
    const client = newClient();
    try {
      data = await driver.create(spec);
      let session: AttachSession | null = null;
      data = await driver.start(spec, data, undefined, { stdin: spec.stdinOpen ? client.input : null, stdout: client.out, stderr: client.err, size, attached: (s) => (session = s) });
      assert.ok(session, 'start hands over the session');
      client.session = session;
      return await fn(spec, data, client);
    } finally {
      client.session?.close();
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

  const variants = [opts.machine ? 'containers placed in one machine' : undefined, opts.image?.variant, opts.kernel ? `${opts.kernel.choice === 'isola' ? 'isola\'s' : 'Debian\'s cloud'} guest kernel` : undefined].filter(Boolean);
  describe(`driver contract: ${kind}${variants.length ? ` (${variants.join(', ')})` : ''}`, () => {
    before(async () => {
      // Read by loadConfig in the fixture, the engine and every isola CLI the tests start.
      if (opts.kernel) process.env.ISOLA_VM_KERNEL = opts.kernel.choice;
      fx = await makeFixture();
      driver = fx.drivers.get(kind);
      const cap = await driver.probe();
      assert.ok(cap.ok, `${kind} must be usable on this host: ${cap.reason}`);
      image = await opts.image?.make(fx);
      outside = await startOutside(20 + (process.pid % 200));
      await ensureBridge({ bridge: userBridge, gateway: intToIp(userNet.base + 1), prefixLength: 24 });
      assert.equal(cidrText(userNet).endsWith('/24'), true);
      engine = new Engine(fx.config);
      if (opts.machine) {
        machines = new Machines(engine);
        const v = await machines.create({ name: `contract-${process.pid}`, memoryBytes: 768 * 1024 * 1024 });
        const m = machines.find(v.name);
        assert.equal(m.spec.network.mode, 'bridge');
        placedIn = { id: m.id, name: m.name, ip: m.ip, network: m.spec.network as BridgeNetworkSpec };
      }
    });
    after(async () => {
      if (placedIn) await machines?.remove(placedIn.id, true).catch(() => undefined);
      engine?.close();
      await removeBridge({ bridge: userBridge, gateway: intToIp(userNet.base + 1), prefixLength: 24 }, { force: true });
      await outside?.stop();
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

    if (opts.kernel) {
      const want = opts.kernel;
      it('boots the guest kernel asked for', async () => {
        await withInstance({ argv: ['uname', '-r'] }, async (spec, data) => {
          assert.equal((await driver.wait(spec, data)).exitCode, 0);
          assert.match(text(await collectLogs(spec, data), 'stdout'), want.release);
          // A hybrid instance keeps its VM's data under vm.
          const d = data as { guestKernel?: string; vm?: { guestKernel?: string } };
          assert.equal((d.vm ?? d).guestKernel, want.choice);
        });
      });
    }

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

    // ---- volumes and shared folders: the same semantics whether bound (container) or shared over virtiofs (VM) ----

    /** A host folder under the data root, removed with the fixture. */
    const hostFolder = (name: string): string => {
      const d = path.join(fx.root, 'host', `${name}-${Math.random().toString(16).slice(2, 8)}`);
      fs.mkdirSync(d, { recursive: true });
      return d;
    };

    it('shows a bind-mounted host folder inside, and a write inside appears on the host with its owner and mode', async () => {
      const dir = hostFolder('bind');
      fs.writeFileSync(path.join(dir, 'in.txt'), 'from-host\n');
      const script = 'cat /data/in.txt; echo from-inside > /data/out.txt; chown 1234:2345 /data/out.txt; chmod 640 /data/out.txt; mkdir /data/d; chown 77:88 /data/d; chmod 2751 /data/d; echo done';
      await withInstance({ argv: ['sh', '-c', script], mounts: [{ type: 'bind', source: dir, target: '/data', readOnly: false, propagation: 'rprivate' }] }, async (spec, data) => {
        assert.equal((await driver.wait(spec, data)).exitCode, 0, text(await collectLogs(spec, data), 'stderr'));
        assert.deepEqual(text(await collectLogs(spec, data), 'stdout').split('\n'), ['from-host', 'done']);
      });
      assert.equal(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'), 'from-inside\n');
      const f = fs.statSync(path.join(dir, 'out.txt'));
      assert.deepEqual([f.uid, f.gid, f.mode & 0o7777], [1234, 2345, 0o640]);
      const d = fs.statSync(path.join(dir, 'd'));
      assert.deepEqual([d.isDirectory(), d.uid, d.gid, d.mode & 0o7777], [true, 77, 88, 0o2751]);
    });

    it('refuses writes to a read-only mount, even when root inside remounts it read-write', async () => {
      const dir = hostFolder('ro');
      fs.writeFileSync(path.join(dir, 'in.txt'), 'readable\n');
      const script = 'cat /data/in.txt; touch /data/new 2>/dev/null && echo wrote || echo refused; mount -o remount,rw /data 2>/dev/null; echo x > /data/in.txt 2>/dev/null && echo wrote || echo refused';
      await withInstance({ argv: ['sh', '-c', script], mounts: [{ type: 'bind', source: dir, target: '/data', readOnly: true, propagation: 'rprivate' }] }, async (spec, data) => {
        await driver.wait(spec, data);
        assert.deepEqual(text(await collectLogs(spec, data), 'stdout').split('\n'), ['readable', 'refused', 'refused']);
      });
      assert.deepEqual(fs.readdirSync(dir), ['in.txt']);
      assert.equal(fs.readFileSync(path.join(dir, 'in.txt'), 'utf8'), 'readable\n');
    });

    it('keeps a volume\'s data across instances: what one wrote, the next one reads after the first is removed', async () => {
      const dir = path.join(fx.root, 'volumes', `contract-${Math.random().toString(16).slice(2, 8)}`, '_data');
      fs.mkdirSync(dir, { recursive: true });
      const mount = { type: 'volume' as const, source: dir, target: '/var/lib/app', readOnly: false, propagation: 'rprivate' as const, volume: path.basename(path.dirname(dir)) };
      await withInstance({ argv: ['sh', '-c', 'echo generation-1 > /var/lib/app/state; chmod 600 /var/lib/app/state'], mounts: [mount] }, async (spec, data) => {
        assert.equal((await driver.wait(spec, data)).exitCode, 0);
      });
      await withInstance({ argv: ['sh', '-c', 'cat /var/lib/app/state; stat -c %a /var/lib/app/state'], mounts: [mount] }, async (spec, data) => {
        await driver.wait(spec, data);
        assert.deepEqual(text(await collectLogs(spec, data), 'stdout').split('\n'), ['generation-1', '600']);
      });
    });

    it('mounts a tmpfs as a tmpfs, with its size and mode', async () => {
      const script = 'grep " /scratch " /proc/mounts | cut -d" " -f1,3; stat -c %a /scratch; echo x > /scratch/f && echo writable';
      await withInstance({ argv: ['sh', '-c', script], mounts: [{ type: 'tmpfs', target: '/scratch', readOnly: false, sizeBytes: 2 << 20, mode: 0o1770 }] }, async (spec, data) => {
        await driver.wait(spec, data);
        assert.deepEqual(text(await collectLogs(spec, data), 'stdout').split('\n'), ['tmpfs tmpfs', '1770', 'writable']);
      });
    });

    it('copies a folder in and out of a running instance, keeping modes and owners (isola cp -a)', async () => {
      const src = hostFolder('cp-src');
      fs.mkdirSync(path.join(src, 'tree', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(src, 'tree', 'f'), 'content\n');
      fs.chownSync(path.join(src, 'tree', 'f'), 4321, 8765);
      fs.chmodSync(path.join(src, 'tree', 'f'), 0o4751);
      fs.symlinkSync('../f', path.join(src, 'tree', 'sub', 'link'));
      await withInstance({ argv: ['sleep', '600'] }, async (spec, data) => {
        const { create } = await import('tar');
        const pack = create({ cwd: src, portable: false }, ['tree']);
        await driver.copyIn(spec, data, '/tmp', Readable.from(pack as unknown as AsyncIterable<Buffer>), {});
        assert.equal(await driver.statPath(spec, data, '/tmp/tree', false), 'dir');
        assert.equal(await driver.statPath(spec, data, '/tmp/tree/sub/link', false), 'symlink');
        assert.equal(await driver.statPath(spec, data, '/tmp/tree/sub/link', true), 'file');
        assert.equal(await driver.statPath(spec, data, '/tmp/none', false), 'missing');
        const out = new PassThrough();
        const chunks: Buffer[] = [];
        out.on('data', (c: Buffer) => chunks.push(c));
        await driver.copyOut(spec, data, '/tmp/tree', out, { follow: false });
        const back = hostFolder('cp-back');
        await extractInto(Readable.from([Buffer.concat(chunks)]), back, {});
        const f = fs.statSync(path.join(back, 'tree', 'f'));
        assert.deepEqual([fs.readFileSync(path.join(back, 'tree', 'f'), 'utf8'), f.uid, f.gid, f.mode & 0o7777], ['content\n', 4321, 8765, 0o4751]);
        assert.equal(fs.readlinkSync(path.join(back, 'tree', 'sub', 'link')), '../f');
        await assert.rejects(driver.copyOut(spec, data, '/tmp/none', new PassThrough(), { follow: false }), (e) => isIsolaError(e, 'NOT_FOUND'));
      });
    });

    it('runs the workload on a terminal: input, window size, exit status, one stream in the log', async () => {
      const argv = ['sh', '-c', 'tty; stty size; echo to-err >&2; read line; echo "got $line"; exit 3'];
      await withAttached({ argv, tty: true, stdinOpen: true, stdinOnce: true }, { rows: 30, cols: 100 }, async (spec, data, c) => {
        // Typed only once the workload waits for it: the terminal echoes input where it lands.
        await c.waitFor(/to-err/, timeout / 2);
        c.input.write('hello\n');
        await c.session?.done;
        assert.match(c.text(), /^\/dev\/pts\/\d+\r\n30 100\r\nto-err\r\n/, 'the tty, its size and stderr, on one stream');
        assert.match(c.text(), /got hello\r\n/, 'typed input reached the workload (and the terminal echoed it)');
        assert.equal(c.errText(), '', 'a terminal has no separate stderr');
        assert.equal((await driver.wait(spec, data)).exitCode, 3);
        const logs = await collectLogs(spec, data);
        assert.deepEqual([...new Set(logs.map((e) => e.stream))], ['stdout']);
        assert.match(text(logs, 'stdout'), /got hello/, 'the log has the output too');
      });
    });

    it('follows window size changes of the client', async () => {
      const argv = ['sh', '-c', 'while read x; do stty size; done'];
      await withAttached({ argv, tty: true, stdinOpen: true, stdinOnce: true }, { rows: 24, cols: 80 }, async (_spec, _data, c) => {
        c.input.write('\n');
        await c.waitFor(/24 80\r\n/, timeout / 2);
        c.session?.resize({ rows: 50, cols: 132 });
        await retry(async () => {
          c.input.write('\n');
          await c.waitFor(/50 132\r\n/, 1000);
        }, timeout / 2);
      });
    });

    it('attaches again after a client left, the workload running on meanwhile', async () => {
      await withInstance({ argv: ['sh'], tty: true, stdinOpen: true, stdinOnce: false }, async (spec, data) => {
        const first = newClient();
        first.session = await driver.attach(spec, data, { stdin: first.input, stdout: first.out, stderr: first.err, size: { rows: 20, cols: 60 } });
        first.input.write('echo one-$((40+2))\n');
        await first.waitFor(/one-42/, timeout / 2);
        first.session.close();
        await first.session.done;
        assert.equal((await driver.observe(spec, data)).state, 'running', 'leaving is not stopping');
        const second = newClient();
        second.session = await driver.attach(spec, data, { stdin: second.input, stdout: second.out, stderr: second.err, size: { rows: 20, cols: 60 } });
        second.input.write('echo two-$((40+3)); exit 4\n');
        await second.session.done;
        assert.match(second.text(), /two-43/);
        assert.doesNotMatch(second.text(), /one-42/, 'a new client gets output from its attach on');
        assert.equal((await driver.wait(spec, data)).exitCode, 4);
      });
    });

    it('passes stdin to a workload without a terminal, stdout and stderr apart', async () => {
      await withAttached({ argv: ['sh', '-c', 'cat; echo done >&2'], stdinOpen: true, stdinOnce: true }, null, async (spec, data, c) => {
        c.input.write('line one\nline two\n');
        c.input.end();
        await c.session?.done;
        assert.equal(c.text(), 'line one\nline two\n');
        assert.equal(c.errText(), 'done\n');
        assert.equal((await driver.wait(spec, data)).exitCode, 0);
      });
    });

    it('execs on a terminal of its own: its size, its changes, one stream, its status', async () => {
      await withInstance({ argv: ['sleep', '600'] }, async (spec, data) => {
        const c = newClient();
        const listeners = new Set<(s: TerminalSize) => void>();
        const tty = { size: { rows: 25, cols: 70 }, onResize: (l: (s: TerminalSize) => void) => { listeners.add(l); return () => void listeners.delete(l); } };
        const script = 'tty; stty size; echo to-err >&2; while read x; do [ "$x" = q ] && exit 5; stty size; done';
        const running = driver.exec(spec, data, ['sh', '-c', script], { stdin: c.input, stdout: c.out, stderr: c.err, tty });
        await c.waitFor(/to-err/, timeout / 2);
        assert.match(c.text(), /^\/dev\/pts\/\d+\r\n25 70\r\nto-err\r\n/, 'its own terminal, sized as asked, stderr on it');
        assert.ok(listeners.size > 0, 'the driver listens to size changes');
        for (const l of listeners) l({ rows: 40, cols: 120 });
        await retry(async () => {
          c.input.write('\n');
          await c.waitFor(/40 120\r\n/, 1000);
        }, timeout / 2);
        c.input.write('q\n');
        assert.equal(await running, 5);
        assert.equal(c.errText(), '');
        assert.equal(listeners.size, 0, 'it stops listening when the command ends');
      });
    });

    it('reaches the host\'s other networks through NAT, by name through --dns', async () => {
      await withInstance({ argv: ['sh', '-c', `wget -q -O - http://${outside.ip}:8080/; wget -q -O - http://outside.test:8080/`], dns: { servers: [outside.ip], search: [], options: [] } }, async (spec, data) => {
        assert.equal((await driver.wait(spec, data)).exitCode, 0, text(await collectLogs(spec, data), 'stderr'));
        // The outside sees the host's address on its link: the instance's own is masqueraded.
        assert.deepEqual(text(await collectLogs(spec, data), 'stdout').split('\n'), [`outside ${outside.hostIp}`, `outside ${outside.hostIp}`]);
      });
    });

    it('has its own name, --add-host entries and --dns servers in its /etc files', async () => {
      await withInstance({
        name: 'contract-self', hostname: 'contract-host', argv: ['sh', '-c', 'cat /etc/hosts /etc/resolv.conf; ping -c1 -W1 added-name | head -1; ping -c1 -W1 contract-self | head -1'],
        extraHosts: [{ host: 'added-name', ip: '198.18.99.9' }], dns: { servers: [outside.ip], search: ['contract.test'], options: ['ndots:2'] },
      }, async (spec, data) => {
        await driver.wait(spec, data);
        const out = text(await collectLogs(spec, data), 'stdout');
        const ip = spec.network.mode === 'bridge' ? spec.network.ip : '';
        assert.match(out, new RegExp(`^${ip.replace(/\./g, '\\.')}\tcontract-host contract-self$`, 'm'));
        assert.match(out, /^198\.18\.99\.9\tadded-name$/m);
        assert.match(out, new RegExp(`^nameserver ${outside.ip.replace(/\./g, '\\.')}$`, 'm'));
        assert.match(out, /^search contract\.test$/m);
        assert.match(out, /^options ndots:2$/m);
        assert.match(out, /^PING added-name \(198\.18\.99\.9\)/m, 'the workload\'s resolver reads the file');
        assert.match(out, new RegExp(`^PING contract-self \\(${ip.replace(/\./g, '\\.')}\\)`, 'm'));
      });
    });

    it('finds another instance of its user network by name, also one that joined after it started', async () => {
      const peerIp = intToIp(userNet.base + 10);
      const on = (ip: string) => (id: string): Partial<InstanceSpec> => ({ network: userIface(id, ip, 'eth0') });
      // The client starts first and asks for the server's name until it answers.
      const loop = 'while true; do wget -q -O - http://contract-peer:8000/hostname && break; sleep 0.3; done';
      // Until it knows the name, its lookups go to the outside's DNS server (NXDOMAIN), never further.
      const dns = { servers: [outside.ip], search: [], options: [] };
      await withInstance((id) => ({ ...on(intToIp(userNet.base + 11))(id), argv: ['sh', '-c', loop], dns }), async (client, cdata) => {
        await withInstance((id) => ({ ...on(peerIp)(id), name: 'contract-peer', hostname: 'peer-host', argv: ['httpd', '-f', '-p', '8000', '-h', '/etc'] }), async () => {
          // What the engine does when an instance joins: the others' /etc/hosts get its name.
          writeEtcFiles(client, etcFilesFor(client, [{ name: 'contract-peer', ip: peerIp, network: 'contract' }], readHostResolv()));
          await driver.refreshEtc?.(client, cdata);
          const exit = await driver.wait(client, cdata);
          assert.equal(exit.exitCode, 0);
          assert.equal(text(await collectLogs(client, cdata), 'stdout'), 'peer-host');
        });
      });
    });

    it('joins a second network as eth1, the default route staying on eth0', async () => {
      await withInstance((id) => ({ moreNetworks: [userIface(id, intToIp(userNet.base + 12), 'eth1')], argv: ['sh', '-c', 'ip -o -4 addr show | grep -v " lo "; ip route | grep default'] }), async (spec, data) => {
        await driver.wait(spec, data);
        const out = text(await collectLogs(spec, data), 'stdout');
        const ip = spec.network.mode === 'bridge' ? spec.network.ip : '';
        assert.match(out, new RegExp(`eth0\\s+inet ${ip.replace(/\./g, '\\.')}/16`));
        assert.match(out, new RegExp(`eth1\\s+inet ${intToIp(userNet.base + 12).replace(/\./g, '\\.')}/24`));
        assert.match(out, /default via 10\.77\.0\.1 dev eth0/);
      });
    });

    it('leaves nothing behind after cleanup and remove', async () => {
      let spec: InstanceSpec | undefined;
      const dir = hostFolder('leftovers');
      await withInstance({ argv: ['sleep', '600'], mounts: [{ type: 'bind', source: dir, target: '/data', readOnly: true, propagation: 'rprivate' }, { type: 'tmpfs', target: '/t', readOnly: false }] }, async (s) => {
        spec = s;
      });
      assert.ok(spec);
      assert.deepEqual(hostLeftovers(fx, [userBridge, ...(placedIn ? [placedIn.id] : [])]), []);
      assert.equal(fs.existsSync(spec.dir), false);
      assert.equal(fs.existsSync(spec.runDir), false);
    });


    // ---- lifecycle, through the engine (docs/LIFECYCLE.md): the same for every kind ----

    /** A detached instance run by the engine (its exit command, watcher and checker are real); always removed. */
    async function withRunning(argv: string[], over: Partial<RunRequest>, fn: (id: string) => Promise<void>): Promise<void> {
      const req: RunRequest = { ...defaultRunRequest('base', argv), kind, network: placedIn ? 'bridge' : 'none', detach: true, ...(placedIn ? { machine: placedIn.name } : {}), ...over };
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
        // In a VM the workload's end powers the guest off, which may cut this exec before its own
        // status comes back: what counts is the restart below.
        await engine.exec(id, ['killall', 'sleep'], { stdout: new PassThrough(), stderr: new PassThrough() }).catch(() => undefined);
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

    it('snapshot restore brings back the root file system exactly: a write, a snapshot, a change, a restore, a read', async () => {
      // Each run prints /kept as it finds it, then adds a line and deletes /gone.
      await withRunning(['sh', '-c', 'cat /kept /gone 2>/dev/null; echo x >> /kept; test -e /gone || echo g > /gone; [ -s /kept2 ] && rm /gone; echo y > /kept2; sync'], {}, async (id) => {
        await until(() => get(id).state === 'exited' && get(id).cleaned, timeout, 'first run over');
        await createSnapshot(engine, id, 'one');
        await engine.startInstance(id);
        await until(() => get(id).state === 'exited' && get(id).cleaned && lifeOf(get(id)).runSeq === 1, timeout, 'second run over');
        await restoreSnapshot(engine, id, 'one');
        await engine.startInstance(id);
        await until(() => get(id).state === 'exited' && get(id).cleaned && lifeOf(get(id)).runSeq === 2, timeout, 'third run over');
        // Run 2 and run 3 both found what run 1 left (/kept one line, /gone there): the restore
        // undid run 2's line and its deletion of /gone.
        assert.deepEqual((await logText(id)).split('\n').map((l) => l.trim()), ['x', 'g', 'x', 'g']);
        assert.deepEqual((await listSnapshots(engine, id)).map((s) => [s.name, s.state]), [['one', 'ready']]);
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
      assert.deepEqual(hostLeftovers(fx, [userBridge, ...(placedIn ? [placedIn.id] : [])]), []);
    });
  });
}

/** The client's end of an attached session: what it types, what it read. */
interface Client {
  input: PassThrough;
  out: PassThrough;
  err: PassThrough;
  session: AttachSession | null;
  text(): string;
  errText(): string;
  /** Until the output matches, or the time is up (then it fails with what came). */
  waitFor(re: RegExp, withinMs: number): Promise<void>;
}

function newClient(): Client {
  const input = new PassThrough();
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => (o += d.toString()));
  err.on('data', (d: Buffer) => (e += d.toString()));
  return {
    input, out, err, session: null,
    text: () => o,
    errText: () => e,
    async waitFor(re, withinMs) {
      const deadline = Date.now() + withinMs;
      while (!re.test(o)) {
        if (Date.now() > deadline) throw new Error(`no ${re} in the output within ${withinMs} ms; it was ${JSON.stringify(o)}`);
        await sleep(20);
      }
    },
  };
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
