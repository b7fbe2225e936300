import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCmd } from './fixture.js';

/**
 * "The outside" for network tests: a network namespace the test creates, joined to the host by
 * a veth pair on a private /24 of the benchmarking range 198.18.0.0/15 (RFC 2544: never routed
 * on the internet), running a small HTTP server and a DNS server. Instances reach it only through
 * the host's routing and isola's NAT, as they would reach the host's other networks; nothing
 * beyond this machine is ever a target.
 *
 * HTTP (port 8080): `GET /` answers `outside <client address>`, so a test sees the address the
 * server saw (NAT, or a published port's client address).
 * DNS (port 53, UDP): A records for NAMES; every other name is NXDOMAIN.
 */
export interface Outside {
  /** The host's address on the outside link, and the outside's own. */
  hostIp: string;
  ip: string;
  netns: string;
  /** Names the DNS server answers, each with the outside's address. */
  names: string[];
  stop(): Promise<void>;
}

export const OUTSIDE_NAMES = ['outside.test', 'www.outside.test'];

const SERVER = `
const http = require('node:http');
const dgram = require('node:dgram');
const [ip, namesJson] = process.argv.slice(2);
const names = JSON.parse(namesJson);
http.createServer((req, res) => {
  res.end('outside ' + req.socket.remoteAddress.replace(/^::ffff:/, '') + '\\n');
}).listen(8080, ip);
const dns = dgram.createSocket('udp4');
dns.on('message', (q, rinfo) => {
  // The question: labels from byte 12, then type and class.
  let o = 12; const labels = [];
  while (o < q.length && q[o] !== 0) { labels.push(q.subarray(o + 1, o + 1 + q[o]).toString()); o += q[o] + 1; }
  const qend = o + 5;
  const name = labels.join('.').toLowerCase();
  const type = q.readUInt16BE(o + 1);
  const known = names.includes(name);
  const head = Buffer.alloc(12);
  q.copy(head, 0, 0, 2);
  head.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // response, recursion available, NOERROR or NXDOMAIN
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(known && type === 1 ? 1 : 0, 6);
  const parts = [head, q.subarray(12, qend)];
  if (known && type === 1) {
    const ans = Buffer.alloc(16);
    ans.writeUInt16BE(0xc00c, 0); ans.writeUInt16BE(1, 2); ans.writeUInt16BE(1, 4); ans.writeUInt32BE(5, 6); ans.writeUInt16BE(4, 10);
    ip.split('.').forEach((b, i) => ans.writeUInt8(Number(b), 12 + i));
    parts.push(ans);
  }
  dns.send(Buffer.concat(parts), rinfo.port, rinfo.address);
});
dns.bind(53, ip, () => process.stdout.write('ready\\n'));
`;

/** Makes the outside: netns, veth, addresses, servers. `n` (0-255) picks the /24. */
export async function startOutside(n = 7): Promise<Outside> {
  const netns = `itest-out-${process.pid}`;
  const hostDev = `itest${process.pid}`.slice(0, 15);
  const hostIp = `198.18.${n}.1`;
  const ip = `198.18.${n}.2`;
  const must = async (args: string[]) => {
    const r = await runCmd('ip', args);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  await must(['netns', 'add', netns]);
  let server: ChildProcess | undefined;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'itest-outside-'));
  const outside: Outside = {
    hostIp, ip, netns, names: OUTSIDE_NAMES,
    async stop() {
      if (server?.pid) {
        server.kill('SIGKILL');
        await new Promise((r) => (server?.exitCode !== null ? r(null) : server.once('exit', r)));
      }
      await runCmd('ip', ['netns', 'del', netns]);
      if (fs.existsSync(`/sys/class/net/${hostDev}`)) await runCmd('ip', ['link', 'del', hostDev]);
      fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
  try {
    await must(['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await must(['addr', 'add', `${hostIp}/24`, 'dev', hostDev]);
    await must(['link', 'set', hostDev, 'up']);
    await must(['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await must(['-n', netns, 'link', 'set', 'eth0', 'up']);
    await must(['-n', netns, 'link', 'set', 'lo', 'up']);
    const script = path.join(scratch, 'server.cjs');
    fs.writeFileSync(script, SERVER);
    server = spawn('ip', ['netns', 'exec', netns, process.execPath, script, ip, JSON.stringify(OUTSIDE_NAMES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => server?.stdout?.once('data', () => resolve(true))),
      new Promise<boolean>((resolve) => server?.once('exit', () => resolve(false))),
      sleep(10_000).then(() => false),
    ]);
    if (!ready) throw new Error('the outside\'s servers did not start');
    return outside;
  } catch (e) {
    await outside.stop();
    throw e;
  }
}
