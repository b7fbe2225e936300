import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FrameReader, connectError, encodeFrame } from '../../../src/drivers/vm/agent.js';
import { agentPortsOf, openAgentSession, type AgentPort } from '../../../src/drivers/vm/agent-ports.js';
import { launchFiles } from '../../../src/drivers/vm/jail.js';
import { EXTRA_AGENT_PORTS, agentPorts, agentPortName } from '../../../src/drivers/vm/launch.js';
import { tryLock } from '../../../src/util/lock.js';
import { isIsolaError } from '../../../src/core/errors.js';

/** A stand-in for QEMU's socket behind one agent port, the guest answering every handshake. */
async function fakePort(dir: string, n: number): Promise<{ port: AgentPort; clients: () => number; close: () => Promise<void> }> {
  const socket = path.join(dir, `agent${n}.sock`);
  const open = new Set<net.Socket>();
  let clients = 0;
  const server = net.createServer((s) => {
    clients++;
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
    const reader = new FrameReader();
    s.on('data', (d: Buffer) => {
      for (const f of reader.push(d)) if (f.type === 'N') s.write(encodeFrame('n', f.payload));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    port: { socket, lock: path.join(dir, `agent${n}.lock`) },
    clients: () => clients,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function withPorts(n: number, fn: (ports: AgentPort[], dir: string, clients: () => number[]) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-ports-'));
  const fakes = await Promise.all(Array.from({ length: n }, (_, i) => fakePort(dir, i)));
  try {
    await fn(fakes.map((f) => f.port), dir, () => fakes.map((f) => f.clients()));
  } finally {
    for (const f of fakes) await f.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const record = (files: ReturnType<typeof launchFiles> | Omit<ReturnType<typeof launchFiles>, 'agents'>, pid: number | null = null) => ({ pid, pidStartTime: null, bootId: null, files });

test('a VM has isola.agent and EXTRA_AGENT_PORTS more, each a socket QEMU serves and a lock in the instance folder', () => {
  const files = launchFiles('/s', '/r');
  const ports = agentPortsOf(record(files), '/inst');
  assert.equal(ports.length, 1 + EXTRA_AGENT_PORTS);
  assert.deepEqual(ports.map((p) => p.socket), ['/r/agent.sock', '/r/agent1.sock', '/r/agent2.sock']);
  assert.deepEqual(ports.map((p) => p.lock), ['/inst/agent0.lock', '/inst/agent1.lock', '/inst/agent2.lock']);
  // QEMU's argv has a port per socket, named as the guest's init looks for them.
  const names = agentPorts(files).filter((a) => a.startsWith('virtserialport,')).map((a) => /name=(\S+)/.exec(a)?.[1]);
  assert.deepEqual(names, ['isola.log', 'isola.status', 'isola.agent', agentPortName(1), agentPortName(2), 'isola.ctl']);
  const initC = fs.readFileSync(path.join(import.meta.dirname, '../../../../src/guest/init.c'), 'utf8');
  for (let i = 0; i <= EXTRA_AGENT_PORTS; i++) assert.ok(initC.includes(`{.name = "${agentPortName(i)}"}`), `init.c serves ${agentPortName(i)}`);
});

test('a VM started before the extra ports (no files.agents) has isola.agent only; a long path goes through QEMU\'s root', () => {
  const { agents: _none, ...old } = launchFiles('/s', '/r');
  assert.deepEqual(agentPortsOf(record(old), '/inst').map((p) => p.socket), ['/r/agent.sock']);
  const long = launchFiles('/s', `/r/${'x'.repeat(120)}`);
  assert.deepEqual(agentPortsOf(record(long, 42), '/inst').map((p) => p.socket), ['/proc/42/root/run/vm/agent.sock', '/proc/42/root/run/vm/agent1.sock', '/proc/42/root/run/vm/agent2.sock']);
});

test('sessions at once take different ports; a freed port is taken again', async () => {
  await withPorts(3, async (ports, _dir, clients) => {
    const a = await openAgentSession(ports, { name: 'vm1', waitMs: 1000 });
    const b = await openAgentSession(ports, { name: 'vm1', waitMs: 1000 });
    const c = await openAgentSession(ports, { name: 'vm1', waitMs: 1000 });
    assert.deepEqual([a?.port, b?.port, c?.port], [0, 1, 2]);
    assert.ok(fs.existsSync(ports[1]!.lock), 'the port is locked while its session runs');
    b?.release();
    assert.ok(!fs.existsSync(ports[1]!.lock), 'release frees it');
    const d = await openAgentSession(ports, { name: 'vm1', waitMs: 1000 });
    assert.equal(d?.port, 1);
    assert.deepEqual(clients(), [1, 2, 1]);
    for (const s of [a, c, d]) s?.release();
  });
});

test('every port busy: the session waits for one to free up', async () => {
  await withPorts(2, async (ports) => {
    const held = ports.map((p) => tryLock(p.lock));
    assert.ok(held.every((h) => h !== null));
    setTimeout(() => held[1]?.(), 400);
    const started = Date.now();
    const s = await openAgentSession(ports, { name: 'vm1', waitMs: 5000 });
    const waited = Date.now() - started;
    assert.equal(s?.port, 1);
    assert.ok(waited >= 350 && waited < 2000, `${waited} ms`);
    s?.release();
    held[0]?.();
  });
});

test('every port busy past the wait: TIMEOUT in one line that says how many run at once and what to do', async () => {
  await withPorts(2, async (ports) => {
    const held = ports.map((p) => tryLock(p.lock));
    await assert.rejects(openAgentSession(ports, { name: 'vm1', waitMs: 300 }), (e: unknown) => {
      const m = (e as Error).message;
      return isIsolaError(e, 'TIMEOUT') && /all 2 agent ports of VM vm1 were busy/.test(m) && !m.includes('\n');
    });
    for (const h of held) h?.();
  });
});

test('a lock left by a process that is gone is taken; an abort while waiting resolves null', async () => {
  await withPorts(1, async (ports) => {
    // A dead owner: a process that has exited (its pid and start time no longer match).
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    fs.mkdirSync(ports[0]!.lock);
    fs.writeFileSync(path.join(ports[0]!.lock, 'owner'), `${dead.pid} 1 x\n`);
    const s = await openAgentSession(ports, { name: 'vm1', waitMs: 1000 });
    assert.equal(s?.port, 0);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    assert.equal(await openAgentSession(ports, { name: 'vm1', waitMs: 5000, signal: ac.signal }), null);
    s?.release();
  });
});

/** A listening socket that never accepts, its queue full: connect fails with EAGAIN, as QEMU's does while another client holds the port. */
async function fullSocket(socket: string): Promise<ChildProcess> {
  const py = spawn('python3', ['-c', `
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(0)
q = []
for i in range(4):
    c = socket.socket(socket.AF_UNIX); c.setblocking(False)
    try: c.connect(sys.argv[1]); q.append(c)
    except BlockingIOError: break
print('ready', flush=True); time.sleep(60)
`, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => py.stdout?.once('data', () => r()));
  return py;
}

test('a port busy without a lock (connect EAGAIN: a client that takes none) counts as taken, and the error says busy, not "not running"', async () => {
  await withPorts(2, async (ports, dir) => {
    const busy = path.join(dir, 'busy.sock');
    const py = await fullSocket(busy);
    try {
      const s = await openAgentSession([{ socket: busy, lock: path.join(dir, 'busy.lock') }, ports[1]!], { name: 'vm1', waitMs: 1000 });
      assert.equal(s?.port, 1);
      assert.ok(!fs.existsSync(path.join(dir, 'busy.lock')), 'the busy port\'s lock was given back');
      s?.release();
      const e = await new Promise<NodeJS.ErrnoException>((r) => net.connect(busy).once('error', r));
      assert.equal(e.code, 'EAGAIN');
      assert.doesNotMatch(connectError(busy, e).oneLine(), /not running/);
      assert.match(connectError(busy, e).message, /busy with another client/);
    } finally {
      py.kill();
    }
  });
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.doesNotMatch(connectError('/r/agent.sock', refused).oneLine(), /not running/);
});
