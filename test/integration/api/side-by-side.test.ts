import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, runCmd, type CliResult, type Fixture } from '../../helpers/fixture.js';
import { startServe, type Served } from '../../helpers/serve.js';
import { startDockerd, type Dockerd } from '../../helpers/peers.js';

/**
 * One docker CLI script (the 28.x client) against `isola serve` and against a real dockerd
 * (Debian's docker.io, private to this file, no bridge: every run is --network none), step by
 * step: the same exit status, and the same output where Docker's is not its own words (its
 * version, its error messages). The image is isola's base, given to dockerd by `isola save` and
 * `docker load`, so both run the same bytes.
 */
const DOCKER = '/usr/local/bin/docker';
let fx: Fixture;
let dockerd: Dockerd;
let served: Served;
let sock: string;

interface Step {
  args: string[];
  /** What of the output must be the same on both: stdout (default), both streams, or only the exit status. */
  same?: 'stdout' | 'both' | 'status';
  /** Checked on both outputs besides. */
  expect?: RegExp;
  /** A known difference (docs/API.md): the exit statuses each side must give. */
  differs?: { isola: number; dockerd: number };
}

const N = ['--network', 'none'];
const SCRIPT: Step[] = [
  { args: ['version', '--format', '{{.Server.APIVersion}}'], same: 'status', expect: /^1\.\d+\n$/ },
  { args: ['run', '--rm', ...N, 'base', 'echo', 'hi'], expect: /^hi\n$/ },
  { args: ['run', '--rm', ...N, 'base', 'sh', '-c', 'echo out; echo err >&2; exit 3'], same: 'both' },
  { args: ['run', '--rm', ...N, 'base', 'no-such-command'], same: 'status' },
  { args: ['run', '--rm', ...N, '-e', 'FOO=bar', '-w', '/tmp', 'base', 'sh', '-c', 'echo $FOO $(pwd) $(id -u)'], expect: /^bar \/tmp 0\n$/ },
  { args: ['run', '--rm', ...N, '--entrypoint', 'echo', 'base', 'via', 'entrypoint'] },
  { args: ['run', '--rm', ...N, '-i', 'base', 'wc', '-c'] },
  { args: ['run', '-d', '--name', 'sbs', ...N, 'base', 'sh', '-c', 'echo started; echo to-err >&2; exec sleep 300'], same: 'status', expect: /^[a-f0-9]{64}\n$/ },
  { args: ['ps', '--filter', 'name=sbs', '--format', '{{.Names}} {{.State}} {{.Command}}'] },
  { args: ['logs', 'sbs'], same: 'both' },
  { args: ['exec', 'sbs', 'sh', '-c', 'echo $((6*7))'], expect: /^42\n$/ },
  { args: ['exec', 'sbs', 'sh', '-c', 'exit 7'] },
  // isola answers 127, as run does; Debian's dockerd 20.10 answers 126 for exec.
  { args: ['exec', 'sbs', 'no-such-command'], same: 'status', differs: { isola: 127, dockerd: 126 } },
  { args: ['inspect', '-f', '{{.State.Running}} {{.Name}}', 'sbs'], expect: /^true \/sbs\n$/ },
  { args: ['cp', '@IN', 'sbs:/tmp/in.txt'], same: 'status' },
  { args: ['exec', 'sbs', 'cat', '/tmp/in.txt'], expect: /^copied in\n$/ },
  { args: ['pause', 'sbs'] },
  { args: ['inspect', '-f', '{{.State.Status}}', 'sbs'], expect: /^paused\n$/ },
  { args: ['unpause', 'sbs'] },
  { args: ['rename', 'sbs', 'sbs2'] },
  { args: ['stop', '-t', '1', 'sbs2'], expect: /^sbs2\n$/ },
  { args: ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'sbs2'] },
  // Start after this stop, then kill at once: the stop's exit command, arriving while the start
  // ran, once recorded the new run as exited and the kill answered "is not running".
  { args: ['start', 'sbs2'], expect: /^sbs2\n$/ },
  { args: ['kill', 'sbs2'], expect: /^sbs2\n$/ },
  { args: ['wait', 'sbs2'], expect: /^137\n$/ },
  { args: ['rm', 'sbs2'], expect: /^sbs2\n$/ },
  { args: ['rm', 'sbs2'], same: 'status' },
  { args: ['inspect', 'no-such-instance'], same: 'status' },
  { args: ['images', '--format', '{{.Repository}}:{{.Tag}}', 'base'], expect: /^base:latest\n$/ },
  { args: ['tag', 'base', 'sbs-tag:1'] },
  { args: ['rmi', 'sbs-tag:1'], expect: /^Untagged: sbs-tag:1\n$/ },
  { args: ['volume', 'create', 'sbs-vol'] },
  { args: ['run', '--rm', ...N, '-v', 'sbs-vol:/data', 'base', 'sh', '-c', 'echo kept > /data/f'] },
  { args: ['run', '--rm', ...N, '-v', 'sbs-vol:/data', 'base', 'cat', '/data/f'], expect: /^kept\n$/ },
  { args: ['volume', 'rm', 'sbs-vol'] },
  { args: ['build', '-q', ...N, '-t', 'sbs-built:1', '@CTX'], same: 'status', expect: /^sha256:[a-f0-9]{64}\n$/ },
  { args: ['run', '--rm', ...N, 'sbs-built:1'], expect: /^made by RUN\n$/ },
  { args: ['rmi', 'sbs-built:1'], same: 'status' },
  { args: ['run', ...N, '--name', 'sbs-gone', 'base', 'true'] },
  { args: ['container', 'prune', '-f'], same: 'status', expect: /^Deleted Containers:\n[a-f0-9]{64}\n\nTotal reclaimed space: / },
  { args: ['ps', '-a', '--format', '{{.Names}}'], expect: /^$/ },
];

function docker(host: string, args: string[], input?: string): Promise<CliResult> {
  return runCmd(DOCKER, args, {
    env: { PATH: process.env.PATH, HOME: fx.root, DOCKER_HOST: host, DOCKER_CONFIG: path.join(fx.root, 'docker-cli'), DOCKER_BUILDKIT: '0' },
    timeoutMs: 120_000, ...(input !== undefined ? { input } : {}),
  });
}

before(async () => {
  [fx, dockerd] = await Promise.all([makeFixture(), startDockerd()]);
  served = await startServe(fx.root);
  sock = served.sock;
  const tar = path.join(fx.root, 'base.tar');
  const saved = await isola(fx.root, ['save', '-o', tar, 'base']);
  assert.equal(saved.code, 0, saved.stderr);
  const loaded = await dockerd.docker(['load', '-i', tar]);
  assert.equal(loaded.code, 0, loaded.stderr);
});

after(async () => {
  await docker(`unix://${sock}`, ['rm', '-f', 'sbs', 'sbs2']).catch(() => undefined);
  await served?.stop();
  await Promise.all([fx?.dispose(), dockerd?.stop()]);
});

test('the same docker CLI script against isola serve and a real dockerd: the same exit statuses and outputs', async () => {
  const src = path.join(fx.root, 'in.txt');
  fs.writeFileSync(src, 'copied in\n');
  const ctx = path.join(fx.root, 'ctx');
  fs.mkdirSync(ctx);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM base\nRUN echo made by RUN > /made\nCMD ["cat", "/made"]\n');
  const hosts = { isola: `unix://${sock}`, dockerd: `unix://${path.join(dockerd.dir, 'docker.sock')}` };
  const report: string[] = [];
  for (const step of SCRIPT) {
    const args = step.args.map((a) => (a === '@IN' ? src : a === '@CTX' ? ctx : a));
    const input = args.includes('-i') ? 'twelve bytes' : undefined;
    const [i, d] = await Promise.all([docker(hosts.isola, args, input), docker(hosts.dockerd, args, input)]);
    const what = `docker ${args.join(' ')}`;
    report.push(`${what}: isola ${i.code}, dockerd ${d.code}`);
    if (step.differs) {
      assert.deepEqual({ isola: i.code, dockerd: d.code }, step.differs, `${what}: the known difference changed`);
      continue;
    }
    assert.equal(i.code, d.code, `${what}: exit ${i.code} (isola) vs ${d.code} (dockerd)\nisola: ${i.stdout}${i.stderr}\ndockerd: ${d.stdout}${d.stderr}\nserver: ${served.log().slice(-1500)}`);
    const same = step.same ?? 'stdout';
    if (same !== 'status') assert.equal(i.stdout, d.stdout, `${what}: stdout differs`);
    if (same === 'both') assert.equal(i.stderr, d.stderr, `${what}: stderr differs`);
    if (step.expect) {
      assert.match(i.stdout, step.expect, `${what} (isola)`);
      assert.match(d.stdout, step.expect, `${what} (dockerd)`);
    }
  }
  process.stdout.write(`${report.join('\n')}\n`);
});

test('nothing left on the host by isola', async () => {
  await docker(`unix://${sock}`, ['rm', '-f', 'sbs', 'sbs2', 'sbs-gone']);
  // The private dockerd's cgroups (isola-test-dockerd) go when it stops, after this file.
  assert.deepEqual(hostLeftovers(fx, ['isola-test-dockerd']), []);
});
