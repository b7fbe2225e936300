import { describe, test, before, after, afterEach } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, nftObjects, runCmd, type Fixture } from '../../helpers/fixture.js';
import { startOutside, type Outside } from '../../helpers/outside.js';
import { hostRoutes } from '../../../src/net/routes.js';
import { cidrText } from '../../../src/net/ipam.js';
import { assertEngineError } from '../../helpers/engine-error.js';

/**
 * The network verbs and flags through the real CLI: user networks, published ports (DNAT) from
 * the host and from "the outside" (a namespace the test makes), `isola port`, -P, and every bad
 * input refused with one line, exit 125, and nothing half-made.
 */
let fx: Fixture;
let outside: Outside;
const cli = (...args: string[]) => isola(fx.root, args);

async function networks(): Promise<string[]> {
  return (JSON.parse((await cli('network', 'ls', '--json')).stdout) as { Name: string }[]).map((n) => n.Name);
}

async function assertNothingLeft(keepNetworks: string[] = []): Promise<void> {
  assert.deepEqual(JSON.parse((await cli('ps', '-a', '--json')).stdout), []);
  assert.deepEqual(fs.readdirSync(fx.paths.instances), []);
  assert.deepEqual(await networks(), ['bridge', 'none', ...keepNetworks]);
  assert.deepEqual(hostLeftovers(fx, keepNetworks.length ? ['isolabr-'] : []), []);
}

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let data = '';
    s.on('connect', () => s.write(`GET /hostname HTTP/1.0\r\nHost: x\r\n\r\n`));
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => resolve(data.split('\r\n\r\n')[1] ?? ''));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

const UDP_ECHO = `#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(atoi(argc > 1 ? argv[1] : "9000"));
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
  for (;;) {
    char b[512], r[600];
    struct sockaddr_in p;
    socklen_t pl = sizeof p;
    ssize_t n = recvfrom(s, b, sizeof b - 1, 0, (struct sockaddr *)&p, &pl);
    if (n < 0) continue;
    b[n] = 0;
    printf("%s from %s\\n", b, inet_ntoa(p.sin_addr));
    fflush(stdout);
    int m = snprintf(r, sizeof r, "echo %s", b);
    sendto(s, r, (size_t)m, 0, (struct sockaddr *)&p, pl);
  }
}
`;

function udpAsk(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no udp answer'));
    }, 1000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m.toString());
    });
    s.send(text, port, host);
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

describe('isola networks through the CLI', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    fx = await makeFixture();
    outside = await startOutside(30 + (process.pid % 200));
  });
  // A failed test must not fail the next ones: whatever it left is removed after it.
  afterEach(async () => {
    const ps = JSON.parse((await cli('ps', '-a', '--json')).stdout || '[]') as { id: string }[];
    if (ps.length) await cli('rm', '-f', ...ps.map((p) => p.id));
    await cli('network', 'prune');
  });
  after(async () => {
    await outside?.stop();
    await fx?.dispose();
  });

  test('network create, ls, inspect, connect, disconnect, rm and prune', async () => {
    const id = (await cli('network', 'create', 'front')).stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal((await cli('network', 'create', '--subnet', '10.91.8.0/24', '--gateway', '10.91.8.254', 'back')).code, 0);
    assert.deepEqual(await networks(), ['bridge', 'none', 'front', 'back']);
    const [back] = JSON.parse((await cli('network', 'inspect', 'back')).stdout) as { IPAM: { Config: { Subnet: string; Gateway: string }[] }; Bridge: string }[];
    assert.deepEqual(back?.IPAM.Config, [{ Subnet: '10.91.8.0/24', Gateway: '10.91.8.254' }]);
    assert.ok(fs.existsSync(`/sys/class/net/${back?.Bridge}`), 'its bridge exists');
    assert.ok(nftObjects().some((o) => o === `nft network ${back?.Bridge} 10.91.8.0/24`), 'its rules are in isola\'s table');
    assert.match((await cli('network', 'ls')).stdout, /^[0-9a-f]{12}\s+front\s+bridge\s+10\.7[89]\.\d+\.0\/24/m);

    // A running container: connected, it gets eth1 at once and the network's names.
    assert.equal((await cli('run', '-d', '--name', 'c1', '--network', 'front', 'base', 'httpd', '-f', '-p', '8000', '-h', '/etc')).code, 0);
    assert.equal((await cli('network', 'connect', 'back', 'c1')).code, 0);
    const addrs = (await cli('exec', 'c1', 'ip', '-o', '-4', 'addr')).stdout;
    assert.match(addrs, /eth1\s+inet 10\.91\.8\.1\/24/, 'the lowest free address: the gateway is .254 here');
    const reach = await cli('run', '--rm', '--network', 'back', 'base', 'wget', '-q', '-O', '-', 'http://c1:8000/hostname');
    assert.equal(reach.code, 0, reach.stderr);
    assertEngineError(await cli('network', 'connect', 'back', 'c1'), /already connected/);
    assertEngineError(await cli('network', 'rm', 'back'), /network back is in use by c1; .*disconnect/);
    assert.equal((await cli('network', 'disconnect', 'back', 'c1')).code, 0);
    assert.doesNotMatch((await cli('exec', 'c1', 'ip', '-o', '-4', 'addr')).stdout, /eth1/);
    assertEngineError(await cli('network', 'disconnect', 'back', 'c1'), /not connected to network back/);
    // A created container has its namespace already: it gets the interface before it starts.
    assert.equal((await cli('create', '--name', 'c2', '--network', 'front', 'base', 'sleep', '600')).code, 0);
    assert.equal((await cli('network', 'connect', 'back', 'c2')).code, 0);
    assert.equal((await cli('start', 'c2')).code, 0);
    assert.match((await cli('exec', 'c2', 'ip', '-o', '-4', 'addr')).stdout, /eth1\s+inet 10\.91\.8\.\d+\/24/);
    assert.equal((await cli('rm', '-f', 'c1', 'c2')).code, 0);
    assert.equal((await cli('network', 'rm', 'back')).code, 0);
    assert.ok(!fs.existsSync(`/sys/class/net/${back?.Bridge}`), 'its bridge went with it');
    assert.equal((await cli('network', 'prune')).stdout, 'front\n');
    await assertNothingLeft();
  });

  test('concurrent isola processes: distinct subnets for networks made at once, distinct addresses for instances', async () => {
    const made = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((n) => cli('network', 'create', n)));
    for (const r of made) assert.equal(r.code, 0, r.stderr);
    const subnets = (JSON.parse((await cli('network', 'inspect', 'p1', 'p2', 'p3', 'p4')).stdout) as { IPAM: { Config: { Subnet: string }[] } }[]).map((n) => n.IPAM.Config[0]?.Subnet);
    assert.equal(new Set(subnets).size, 4, subnets.join(' '));
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => cli('create', '--name', `par${i}`, '--network', 'p1', 'base', 'true')));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const [p1] = JSON.parse((await cli('network', 'inspect', 'p1')).stdout) as { Instances: Record<string, { IPv4Address: string }> }[];
    const ips = Object.values(p1?.Instances ?? {}).map((i) => i.IPv4Address);
    assert.equal(ips.length, 6);
    assert.equal(new Set(ips).size, 6, ips.join(' '));
    assert.equal((await cli('rm', ...Array.from({ length: 6 }, (_, i) => `par${i}`))).code, 0);
    assert.deepEqual((await cli('network', 'prune')).stdout.trim().split('\n').sort(), ['p1', 'p2', 'p3', 'p4']);
    await assertNothingLeft();
  });

  test('a VM: connect refused while it runs, a created one gets the interface at its start', async () => {
    assert.equal((await cli('network', 'create', 'side')).code, 0);
    assert.equal((await cli('run', '-d', '--name', 'v1', '--as', 'vm', 'base', 'sleep', '600')).code, 0);
    assertEngineError(await cli('network', 'connect', 'side', 'v1'), /instance v1 is a running vm: a VM's network interfaces are fixed while it runs.*; stop it, connect it, then start it again/);
    assert.equal((await cli('create', '--name', 'v2', '--as', 'vm', 'base', 'sleep', '600')).code, 0);
    assert.equal((await cli('network', 'connect', 'side', 'v2')).code, 0);
    assert.equal((await cli('start', 'v2')).code, 0);
    const addrs = (await cli('exec', 'v2', 'ip', '-o', '-4', 'addr')).stdout;
    assert.match(addrs, /eth0\s+inet 10\.77\./);
    assert.match(addrs, /eth1\s+inet 10\.7[89]\./);
    assert.equal((await cli('rm', '-f', 'v1', 'v2')).code, 0);
    assert.equal((await cli('network', 'rm', 'side')).code, 0);
    await assertNothingLeft();
  });

  test('published ports: kernel forwarding from the host and from outside, loopback-only, isola port', async () => {
    const run = await cli('run', '-d', '--name', 'pub', '-p', '18941:8000', '-p', '127.0.0.1:18942:8000', 'base', 'httpd', '-f', '-p', '8000', '-h', '/etc');
    assert.equal(run.code, 0, run.stderr);
    const hostname = (await cli('exec', 'pub', 'hostname')).stdout.trim();
    assert.equal(await retry(() => httpGet('127.0.0.1', 18941), 10_000), `${hostname}\n`);
    assert.equal(await httpGet('127.0.0.1', 18942), `${hostname}\n`);
    // From outside: the host's address on the outside link, port 18941; not the loopback-only one.
    const curl = await runCmd('ip', ['netns', 'exec', outside.netns, 'curl', '-s', '-m', '5', `http://${outside.hostIp}:18941/hostname`]);
    assert.equal(curl.stdout, `${hostname}\n`);
    const loopOnly = await runCmd('ip', ['netns', 'exec', outside.netns, 'curl', '-s', '-m', '3', `http://${outside.hostIp}:18942/hostname`]);
    assert.notEqual(loopOnly.code, 0, '127.0.0.1:18942 is published on the loopback only');
    assert.equal((await cli('port', 'pub')).stdout, '8000/tcp -> 0.0.0.0:18941\n8000/tcp -> 127.0.0.1:18942\n');
    assert.equal((await cli('port', 'pub', '8000')).stdout, '0.0.0.0:18941\n127.0.0.1:18942\n');
    assertEngineError(await cli('port', 'pub', '7/tcp'), /does not publish port 7\/tcp/);
    assert.equal((await cli('rm', '-f', 'pub')).code, 0);
    assert.deepEqual(nftObjects().filter((o) => /1894[12]/.test(o)), []);
    await assertNothingLeft();
  });

  test('a service sees the client\'s real address through a published port', async () => {
    // busybox httpd runs a CGI script with the peer's address in REMOTE_ADDR.
    const cgi = "mkdir -p /w/cgi-bin && printf '%s\\n' '#!/bin/sh' 'echo Content-Type: text/plain' 'echo' 'echo $REMOTE_ADDR' > /w/cgi-bin/ip && chmod +x /w/cgi-bin/ip && exec httpd -f -p 8000 -h /w";
    const run = await cli('run', '-d', '--name', 'seen', '-p', '18944:8000', 'base', 'sh', '-c', cgi);
    assert.equal(run.code, 0, run.stderr);
    const ask = (ns: string[]) => retry(async () => {
      const r = await runCmd(ns.length ? 'ip' : 'curl', [...ns, ...(ns.length ? ['curl'] : []), '-s', '-m', '5', `http://${ns.length ? outside.hostIp : '127.0.0.1'}:18944/cgi-bin/ip`]);
      if (r.code !== 0 || !r.stdout.trim()) throw new Error(`curl: ${r.code} ${r.stderr}`);
      // httpd listens on an IPv6 socket: an IPv4 peer reads [::ffff:A.B.C.D].
      return r.stdout.trim().replace(/^\[::ffff:(.*)\]$/, '$1');
    }, 10_000);
    assert.equal(await ask(['netns', 'exec', outside.netns]), outside.ip, 'a client from outside is seen with its own address');
    assert.equal(await ask([]), '10.77.0.1', 'the host\'s loopback is seen as the bridge\'s address (masqueraded)');
    assert.equal((await cli('rm', '-f', 'seen')).code, 0);
    await assertNothingLeft();
  });

  test('-P publishes the image\'s EXPOSE ports on free host ports, udp among them', async () => {
    // An image that exposes a tcp and a udp port; busybox has no udp server, a static one is built here.
    const ctxDir = path.join(fx.root, 'exposing');
    fs.mkdirSync(ctxDir);
    fs.writeFileSync(path.join(ctxDir, 'udp-echo.c'), UDP_ECHO);
    const gcc = await runCmd('gcc', ['-static', '-Os', '-o', path.join(ctxDir, 'udp-echo'), path.join(ctxDir, 'udp-echo.c')]);
    assert.equal(gcc.code, 0, gcc.stderr);
    fs.writeFileSync(path.join(ctxDir, 'Dockerfile'), 'FROM base\nCOPY udp-echo /bin/udp-echo\nEXPOSE 8000/tcp 9000/udp\nCMD ["sh", "-c", "httpd -p 8000 -h /etc; exec udp-echo 9000"]\n');
    const b = await cli('build', '-q', '-t', 'exposing:1', ctxDir);
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await cli('run', '-d', '--name', 'all', '-P', 'exposing:1')).code, 0);
    const ports = (await cli('port', 'all')).stdout;
    const tcp = /^8000\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(ports);
    const udp = /^9000\/udp -> 0\.0\.0\.0:(\d+)$/m.exec(ports);
    assert.ok(tcp && udp, ports);
    const hostname = (await cli('exec', 'all', 'hostname')).stdout.trim();
    assert.equal(await retry(() => httpGet('127.0.0.1', Number(tcp[1])), 10_000), `${hostname}\n`);
    // A datagram there and its answer back, through the DNAT rule and conntrack's reverse.
    const reply = await retry(() => udpAsk('127.0.0.1', Number(udp[1]), 'datagram-through-dnat'), 10_000);
    assert.equal(reply, 'echo datagram-through-dnat');
    assert.match((await cli('logs', 'all')).stdout, /^datagram-through-dnat from 10\.77\.0\.1$/m);
    assert.equal((await cli('rm', '-f', 'all')).code, 0);
    assert.equal((await cli('rmi', 'exposing:1')).code, 0);
    await assertNothingLeft();
  });

  test('bad input: one line, exit 125, nothing made', async () => {
    assert.equal((await cli('network', 'create', 'taken')).code, 0);
    const [taken] = JSON.parse((await cli('network', 'inspect', 'taken')).stdout) as { IPAM: { Config: { Subnet: string }[] } }[];
    const subnet = taken?.IPAM.Config[0]?.Subnet ?? '';
    assertEngineError(await cli('network', 'create', 'taken'), /a network named "taken" already exists/);
    assertEngineError(await cli('network', 'create', '--subnet', subnet, 'other'), new RegExp(`overlaps the subnet ${subnet.replace(/\./g, '\\.')} of another isola network`));
    const route = hostRoutes().find((r) => !r.dev.startsWith('isola'));
    assert.ok(route, 'the host has a route of its own');
    assertEngineError(await cli('network', 'create', '--subnet', cidrText(route.dest), 'other'), /overlaps the host's route/);
    assertEngineError(await cli('network', 'create', '--subnet', '10.77.5.0/24', 'other'), /overlaps the default network/);
    assertEngineError(await cli('network', 'create', '--subnet', '10.92.0.1/24', 'other'), /invalid --subnet/);
    assertEngineError(await cli('network', 'create', '--subnet', '10.92.0.0/24', '--gateway', '10.93.0.1', 'other'), /not a host address of 10\.92\.0\.0\/24/);
    assertEngineError(await cli('network', 'create', 'bridge'), /built-in network name/);
    assertEngineError(await cli('network', 'rm', 'bridge'), /cannot be removed/);
    assertEngineError(await cli('network', 'rm', 'nope'), /no such network: nope/);
    assertEngineError(await cli('run', '--rm', '--network', 'nope', 'base', 'true'), /no such network: nope; .*isola network ls/);
    assertEngineError(await cli('run', '--rm', '--add-host', 'db', 'base', 'true'), /invalid --add-host "db"/);
    assertEngineError(await cli('run', '--rm', '--add-host', 'db:10.0.0.300', 'base', 'true'), /is not an IP address/);
    assertEngineError(await cli('run', '--rm', '--dns', 'dns.example', 'base', 'true'), /invalid --dns "dns\.example"/);
    assertEngineError(await cli('run', '--rm', '--dns-search', 'a b', 'base', 'true'), /invalid --dns-search/);
    assertEngineError(await cli('run', '--rm', '--dns-option', 'nd ots', 'base', 'true'), /invalid --dns-option/);
    assertEngineError(await cli('run', '--rm', '--network', 'none', '-p', '18950:80', 'base', 'true'), /--publish needs a network/);
    assertEngineError(await cli('run', '--rm', '-p', '18950:80', '-p', '18950:81', 'base', 'true'), /names host port 18950\/tcp twice/);
    assertEngineError(await cli('run', '--rm', '-p', '18950:80/sctp', 'base', 'true'), /unknown protocol "sctp"/);
    // A port a program of the host holds, and one another instance publishes.
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(18951, '0.0.0.0', () => resolve()));
    try {
      assertEngineError(await cli('run', '-d', '-p', '18951:80', 'base', 'sleep', '60'), /host port 0\.0\.0\.0:18951 is already in use \(tcp, a program of the host listens there\)/);
    } finally {
      holder.close();
    }
    assert.equal((await cli('run', '-d', '--name', 'holder', '-p', '127.0.0.1:18952:80', 'base', 'sleep', '600')).code, 0);
    assertEngineError(await cli('run', '-d', '-p', '18952:80', 'base', 'sleep', '60'), /host port 0\.0\.0\.0:18952 is already in use \(tcp, published by instance [0-9a-f]{12}\)/);
    assert.equal((await cli('create', '--name', 'member', '--network', 'taken', 'base', 'true')).code, 0);
    assertEngineError(await cli('network', 'rm', 'taken'), /network taken is in use by member/);
    assert.equal((await cli('rm', '-f', 'holder', 'member')).code, 0);
    await assertNothingLeft(['taken']);
    assert.equal((await cli('network', 'rm', 'taken')).code, 0);
    await assertNothingLeft();
  });
});
