import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AgentConnection, FrameReader, encodeFrame } from '../../../src/drivers/vm/agent.js';
import { isIsolaError } from '../../../src/core/errors.js';

/**
 * A stand-in for QEMU's agent socket: the guest answers the handshake ('N' nonce → 'n' nonce)
 * on the connections `answers` picks, and never on the others.
 */
async function fakeAgent(answers: (n: number) => boolean): Promise<{ socket: string; connections: () => number; close: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-agent-'));
  const socket = path.join(dir, 'agent.sock');
  let n = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((s) => {
    const mine = ++n;
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
    const reader = new FrameReader();
    s.on('data', (d: Buffer) => {
      for (const f of reader.push(d)) if (f.type === 'N' && answers(mine)) s.write(encodeFrame('n', f.payload));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    socket,
    connections: () => n,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a handshake left unanswered is tried again on a new connection, within the same time limit', async () => {
  const agent = await fakeAgent((n) => n >= 2); // the guest misses the first connection
  try {
    const c = await AgentConnection.connect(agent.socket, 8000);
    c.close();
    assert.equal(agent.connections(), 2);
  } finally {
    await agent.close();
  }
});

test('a guest that never answers: TIMEOUT after the time given, naming it', async () => {
  const agent = await fakeAgent(() => false);
  try {
    const started = Date.now();
    await assert.rejects(AgentConnection.connect(agent.socket, 3000), (e: unknown) => isIsolaError(e, 'TIMEOUT') && /within 3000 ms/.test((e as Error).message));
    const took = Date.now() - started;
    assert.ok(took >= 2900 && took < 4500, `${took} ms`);
    assert.ok(agent.connections() >= 2, 'tried again before giving up');
  } finally {
    await agent.close();
  }
});

test('no socket at all is refused at once, not waited for', async () => {
  await assert.rejects(AgentConnection.connect('/nonexistent/agent.sock', 5000), (e: unknown) => isIsolaError(e, 'FAILED_PRECONDITION'));
});
