import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, hostLeftovers, isola, makeFixture, type CliResult, type Fixture } from '../../helpers/fixture.js';

/**
 * A `compose up` killed (SIGKILL) in the middle of a rolling update: at the moment a new replica
 * was started while its old one still runs aside, and at the moment an old replica was stopped
 * while the next one is being rolled. The next `compose ps`, `system prune` or `compose up` must
 * find each replica in one state (no replica left aside, one instance per number), `compose up`
 * must converge on the file, and `compose down` must leave nothing on the host. The kill points
 * are the CLI's own progress lines, so no hook in the code is needed.
 */
let fx: Fixture;
let dir: string;
let FILE: string;
const P = `k${process.pid}`;
const compose = (args: string[]) => isola(fx.root, ['compose', '-f', FILE, '-p', P, ...args], { timeoutMs: 180_000 });

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

function writeFile(rev: number): void {
  fs.writeFileSync(FILE, `services:
  web:
    image: base
    command: ["sleep", "86400"]
    environment: {REV: "${rev}"}
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 2}
    deploy: {replicas: 2}
`);
}

/** Runs `compose up -d` and SIGKILLs it when its output has a line matching `at`; resolves with that output. */
function upKilledAt(at: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'compose', '-f', FILE, '-p', P, 'up', '-d'], { env: { ...process.env, ISOLA_ROOT: fx.root }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (at.test(out) && !child.killed) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(out) : reject(new Error(`up ended (${code ?? signal}) before ${String(at)}: ${out}`))));
  });
}

interface PsRow { id: string; name: string; state: string; replica: number }
async function ps(): Promise<PsRow[]> {
  return JSON.parse(ok(await compose(['ps', '--json', '-a'])).stdout) as PsRow[];
}

async function revOf(name: string): Promise<string> {
  return ok(await isola(fx.root, ['exec', name, 'sh', '-c', 'echo $REV'])).stdout.trim();
}

/** Every replica number once, under its own name, running the file's revision. */
async function converged(rev: number): Promise<void> {
  const rows = await ps();
  assert.deepEqual(rows.map((r) => r.name).sort(), [`${P}-web-1`, `${P}-web-2`]);
  for (const r of rows) assert.equal(r.state, 'running', r.name);
  for (const r of rows) assert.equal(await revOf(r.name), String(rev), r.name);
  const all = JSON.parse(ok(await isola(fx.root, ['ps', '-a', '--json'])).stdout) as { name: string }[];
  assert.deepEqual(all.filter((x) => /^[0-9a-f]{12}_/.test(x.name)), [], 'no replica left aside');
}

describe('compose up killed mid-rollout', { timeout: 600_000 }, () => {
  before(async () => {
    fx = await makeFixture();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollout-crash-'));
    FILE = path.join(dir, 'compose.yaml');
    writeFile(1);
    ok(await compose(['up', '-d', '--wait']));
  });

  after(async () => {
    if (fx) {
      await compose(['down']).catch(() => undefined);
      await fx.dispose();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('killed once the new replica started (old one still running aside): compose ps puts it back, compose up converges', async () => {
    writeFile(2);
    const out = await upKilledAt(/Instance \S+-web-1 Started \(new revision\)/);
    assert.match(out, /Rolling/);
    // compose ps: one state per replica again (the new one was not ready, or was: either way one instance per number).
    const r = await compose(['ps', '--json', '-a']);
    ok(r);
    assert.match(r.stderr, /interrupted rollout (finished|undone)/);
    const rows = JSON.parse(r.stdout) as PsRow[];
    assert.deepEqual(rows.map((x) => x.name).sort(), [`${P}-web-1`, `${P}-web-2`]);
    ok(await compose(['up', '-d', '--wait']));
    await converged(2);
  });

  test('killed once an old replica was stopped (the next one rolling): system prune recovers, compose up converges', async () => {
    writeFile(3);
    await upKilledAt(/Instance \S+ Stopped \(replaced\)/);
    const pr = ok(await isola(fx.root, ['system', 'prune']));
    assert.match(pr.stdout, /interrupted rollout (finished|undone)/);
    const all = JSON.parse(ok(await isola(fx.root, ['ps', '-a', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(all.filter((x) => /^[0-9a-f]{12}_/.test(x.name)), [], 'no replica left aside after prune');
    ok(await compose(['up', '-d', '--wait']));
    await converged(3);
  });

  test('killed again mid-rollout, then compose up alone converges, and down leaves nothing on the host', async () => {
    writeFile(4);
    await upKilledAt(/Instance \S+-web-1 Started \(new revision\)/);
    const up = ok(await compose(['up', '-d', '--wait']));
    assert.match(up.stdout, /interrupted rollout (finished|undone)/);
    await converged(4);
    ok(await compose(['down']));
    assert.deepEqual(JSON.parse(ok(await isola(fx.root, ['ps', '-a', '--json'])).stdout), []);
    assert.deepEqual(hostLeftovers(fx), []);
  });
});
