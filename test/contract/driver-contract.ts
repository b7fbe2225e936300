import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import type { BridgeNetworkSpec, InstanceSpec, Kind, LogEntry, StoredData } from '../../src/core/types.js';
import type { AnyDriver } from '../../src/drivers/driver.js';
import { isIsolaError } from '../../src/core/errors.js';
import { ensureDirs, hostLeftovers, makeFixture, specFor, type Fixture } from '../helpers/fixture.js';
import { startOutside, type Outside } from '../helpers/outside.js';
import { ensureBridge, removeBridge } from '../../src/net/bridge.js';
import { cidrText, intToIp, nextFreeSubnet } from '../../src/net/ipam.js';
import { hostRoutes } from '../../src/net/routes.js';
import { macFor } from '../../src/net/names.js';
import { etcFilesFor, readHostResolv, writeEtcFiles, type Peer } from '../../src/net/etc-files.js';

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
  const made: string[] = [];
  let outside: Outside;
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
    const base = specFor(fx, driver.kind);
    const spec = { ...base, ...(typeof over === 'function' ? over(base.id) : over) };
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
      outside = await startOutside(20 + (process.pid % 200));
      await ensureBridge({ bridge: userBridge, gateway: intToIp(userNet.base + 1), prefixLength: 24 });
      assert.equal(cidrText(userNet).endsWith('/24'), true);
    });
    after(async () => {
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
      await withInstance({ argv: ['sleep', '600'] }, async (s) => {
        spec = s;
      });
      assert.ok(spec);
      assert.deepEqual(hostLeftovers(fx, [userBridge]), []);
      assert.equal(fs.existsSync(spec.dir), false);
      assert.equal(fs.existsSync(spec.runDir), false);
    });

    test('no instance of this suite is left on the host', () => {
      assert.deepEqual(hostLeftovers(fx, [userBridge]), []);
    });
  });
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
