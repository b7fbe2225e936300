import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { startServe, type Served } from '../../helpers/serve.js';
import { freePort } from '../../helpers/registry.js';

/**
 * Two SDKs people use against the Docker Engine API, pinned to releases that run on Node 20,
 * against the real `isola serve`: dockerode (4.0.10) starts a container with a published port,
 * waits for its log line and its port, stops and removes it, and runs a VM through
 * `HostConfig.Runtime`; testcontainers (11.14.0; its Ryuk reaper image cannot be pulled here,
 * so it is disabled) starts a container from the local base image, waits for a log line, reaches
 * its mapped port and stops it.
 */
let fx: Fixture;
let served: Served;
let sock: string;
let docker: Docker;

const WEB = 'echo ready; exec httpd -f -p 8080 -h /etc';

function get(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let s = '';
      res.on('data', (d: Buffer) => (s += d.toString()));
      res.on('end', () => resolve(s));
    }).on('error', reject);
  });
}

async function poll(port: number, p: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const body = await get(port, p).catch(() => '');
    if (body) return body;
    await sleep(200);
  }
  return '';
}

before(async () => {
  fx = await makeFixture();
  served = await startServe(fx.root);
  sock = served.sock;
  docker = new Docker({ socketPath: sock });
});

after(async () => {
  await isola(fx.root, ['rm', '-f', 'sdk-web']).catch(() => undefined);
  await served?.stop();
  await fx?.dispose();
});

test('dockerode: create with a published port, start, wait for a log line and the port, stop, remove', async () => {
  const port = await freePort();
  const c = await docker.createContainer({
    name: 'sdk-web', Image: 'base', Cmd: ['sh', '-c', WEB], ExposedPorts: { '8080/tcp': {} },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
  });
  try {
    await c.start();
    const logs = await c.logs({ follow: true, stdout: true, stderr: true });
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    docker.modem.demuxStream(logs, out, out);
    for (let i = 0; i < 100 && !text.includes('ready'); i++) await sleep(100);
    (logs as unknown as { destroy(): void }).destroy();
    assert.equal(text, 'ready\n');
    assert.equal((await poll(port, '/hostname')).trim(), c.id.slice(0, 12));
    const info = await c.inspect();
    assert.equal(info.State.Running, true);
    assert.equal(info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort, String(port));
    await c.stop({ t: 2 });
    assert.equal((await c.inspect()).State.Running, false);
    const listed = await docker.listContainers({ all: true, filters: { name: ['sdk-web'] } });
    assert.equal(listed[0]?.State, 'exited');
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
  await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

test('dockerode: docker.run with HostConfig.Runtime vm, its output and exit status', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  // An array of two streams: dockerode splits the 8-byte framing into them (a single stream would get the frames).
  const [result, c] = await docker.run('base', ['sh', '-c', 'echo from $(uname -r); exit 4'], [out, out], { Tty: false, HostConfig: { Runtime: 'vm' } }) as [{ StatusCode: number }, Docker.Container];
  try {
    assert.equal(result.StatusCode, 4);
    assert.match(text, /^from \S+\n$/);
    assert.equal((await c.inspect()).HostConfig.Runtime, 'vm');
  } finally {
    await c.remove({ force: true });
  }
});

test('testcontainers: a container from a local image, a log-line wait, its mapped port, stop', async () => {
  // testcontainers reads its settings from the environment; Ryuk's image cannot be pulled here.
  process.env.DOCKER_HOST = `unix://${sock}`;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
  const { GenericContainer, Wait } = await import('testcontainers');
  const started = await new GenericContainer('base:latest')
    .withCommand(['sh', '-c', WEB])
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forLogMessage('ready'))
    .withStartupTimeout(60_000)
    .start();
  try {
    const port = started.getMappedPort(8080);
    assert.ok(port > 0);
    assert.equal((await poll(port, '/hostname')).trim(), started.getId().slice(0, 12));
    const ps = await isola(fx.root, ['ps', '--json']);
    assert.ok((JSON.parse(ps.stdout) as { id: string }[]).some((r) => r.id === started.getId()), 'isola ps sees it');
  } finally {
    await started.stop({ timeout: 2 });
  }
  const after = await isola(fx.root, ['ps', '-a', '--json']);
  assert.ok(!(JSON.parse(after.stdout) as { id: string }[]).some((r) => r.id === started.getId()), 'stop removed it (testcontainers removes by default)');
});

test('nothing left on the host', () => {
  assert.deepEqual(hostLeftovers(fx), []);
});
