import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, isola, makeFixture, runCmd, type Fixture } from '../../helpers/fixture.js';
import { unpackLayers } from '../../../src/image/unpack.js';
import type { ImageConfig } from '../../../src/image/layout.js';

/**
 * `isola build` end to end: the real CLI, RUN steps in real runc containers through the Engine,
 * every instruction of the issue in one multi-stage Dockerfile, the cache, -f and a tar context
 * on stdin, and each bad input with its exit status, its one line, and nothing stored or left.
 */
const T = { timeout: 90_000 };

const DOCKERFILE = `# every instruction isola build supports
ARG BASE=base
ARG FLAVOUR

FROM \${BASE} AS builder
ARG VERSION=0.0
ARG FLAVOUR
ENV PREFIX=/opt/app
WORKDIR \${PREFIX}/build
SHELL ["/bin/sh", "-e", "-c"]
RUN echo "version=$VERSION flavour=\${FLAVOUR:-plain}" > version.txt && echo built in $PWD
RUN ["sh", "-c", "echo exec form > exec.txt"]
ADD bundle.tar.gz /opt/app/bundle/
COPY --chown=1234:5678 --chmod=750 bin/ /opt/app/bin/
COPY *.conf /opt/app/etc/
RUN echo 'app:x:2000:2001::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:2001:' >> /etc/group

FROM base AS unused
RUN exit 42

FROM base
MAINTAINER isola tests
LABEL org.example.name="build test" org.example.version=\${VERSION:-none}
COPY --from=builder /opt/app /opt/app
COPY --from=builder /etc/passwd /etc/group /etc/
COPY --chown=app:app notes.txt /home/app/
ENV APP_HOME=/opt/app PATH=/opt/app/bin:$PATH
USER app
WORKDIR /home/app
EXPOSE 8080 9000/udp
VOLUME ["/data"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=15s --timeout=3s --start-period=2s --retries=5 CMD test -f /opt/app/build/version.txt
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /opt/app/build/version.txt"]
`;

function makeContext(dir: string): void {
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'bundle-src/lib'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
  fs.writeFileSync(path.join(dir, 'bin/hello'), '#!/bin/sh\necho hello from bin\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'a.conf'), 'a=1\n');
  fs.writeFileSync(path.join(dir, 'b.conf'), 'b=2\n');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'notes\n');
  fs.writeFileSync(path.join(dir, 'debug.log'), 'never copied\n');
  fs.writeFileSync(path.join(dir, '.dockerignore'), '*.log\nbundle-src\n');
  fs.writeFileSync(path.join(dir, 'bundle-src/lib/data.txt'), 'from the tarball\n');
}

describe('isola build (CLI, real runc)', () => {
  let fx: Fixture;
  let ctx: string;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => isola(fx.root, args, { env, timeoutMs: 80_000 });
  const storedNames = () => (JSON.parse(fs.readFileSync(path.join(fx.root, 'images', 'index.json'), 'utf8')) as { manifests: unknown[] }).manifests.length;

  before(async () => {
    fx = await makeFixture();
    ctx = path.join(fx.root, 'ctx');
    makeContext(ctx);
    const tar = await runCmd('tar', ['-czf', path.join(ctx, 'bundle.tar.gz'), '-C', path.join(ctx, 'bundle-src'), '.']);
    assert.equal(tar.code, 0, tar.stderr);
  });
  after(async () => {
    const ps = await cli(['ps', '-a', '-q']);
    assert.equal(ps.stdout.trim(), '', 'no RUN container is left behind');
    await fx.dispose();
  });

  test('a multi-stage build with every instruction: config, history and files as Docker writes them', T, async () => {
    const r = await cli(['build', '-t', 'app:1', '-t', 'app:latest', '--build-arg', 'VERSION=2.5', '--build-arg', 'FLAVOUR=spicy', ctx]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^\[1\/2\] STEP 1\/12: FROM \$\{BASE\} AS builder$/m);
    assert.match(r.stdout, /^built in \/opt\/app\/build$/m, 'RUN output streams, in the WORKDIR');
    assert.match(r.stdout, /^\[2\/2\] STEP 15\/15: CMD \["cat \/opt\/app\/build\/version.txt"\]$/m);
    assert.doesNotMatch(r.stdout, /exit 42/, 'the stage nothing needs is not built');
    assert.match(r.stdout, /^Successfully tagged app:1$/m);
    const digest = r.stdout.trim().split('\n').pop() ?? '';
    assert.match(digest, /^sha256:[a-f0-9]{64}$/);
    assert.equal(fx.store.findDescriptor('app:1')?.digest, digest);
    assert.equal(fx.store.findDescriptor('app:latest')?.digest, digest);

    const { config, manifest } = fx.store.manifestOf('app:1');
    const c = config.config ?? {};
    assert.deepEqual(c.Env, ['PATH=/opt/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'APP_HOME=/opt/app']);
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(c.Cmd, ['cat /opt/app/build/version.txt']);
    assert.equal(c.User, 'app');
    assert.equal(c.WorkingDir, '/home/app');
    assert.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '9000/udp': {} });
    assert.deepEqual(c.Labels, { 'org.example.name': 'build test', 'org.example.version': 'none' }, 'VERSION is not declared in this stage');
    assert.deepEqual(c.Volumes, { '/data': {} });
    assert.equal(c.StopSignal, 'SIGQUIT');
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'test -f /opt/app/build/version.txt'], Interval: 15e9, Timeout: 3e9, StartPeriod: 2e9, Retries: 5 });
    assert.equal((config as ImageConfig).author, 'isola tests');
    const history = config.history ?? [];
    assert.equal(history.length, 1 + 14, 'the base\'s step and one per instruction of the final stage');
    assert.equal(history.filter((h) => !h.empty_layer).length, manifest.layers.length, 'each layer has its history step');
    assert.deepEqual(history.filter((h) => !h.empty_layer).map((h) => h.created_by?.split(' ')[0]), ['isola:', 'COPY', 'COPY', 'COPY'], 'WORKDIR /home/app made no layer: COPY had made the folder');
    assert.match(history[history.length - 1]?.created_by ?? '', /^CMD \["cat/);

    const tree = path.join(fx.root, 'tree');
    await unpackLayers(manifest.layers.map((l) => fx.store.blobPath(l.digest)), tree);
    const st = (p: string) => fs.statSync(path.join(tree, p));
    assert.equal(fs.readFileSync(path.join(tree, 'opt/app/build/version.txt'), 'utf8'), 'version=2.5 flavour=spicy\n', 'build arguments reach RUN');
    assert.equal(fs.readFileSync(path.join(tree, 'opt/app/build/exec.txt'), 'utf8'), 'exec form\n');
    assert.deepEqual([st('opt/app/bin/hello').uid, st('opt/app/bin/hello').gid, st('opt/app/bin/hello').mode & 0o7777], [1234, 5678, 0o750], '--chown and --chmod');
    assert.deepEqual([st('opt/app/etc/a.conf').uid, st('opt/app/etc/a.conf').mode & 0o777], [0, 0o644], 'context files are root\'s');
    assert.ok(fs.existsSync(path.join(tree, 'opt/app/etc/b.conf')), 'the wildcard matched both');
    assert.equal(fs.readFileSync(path.join(tree, 'opt/app/bundle/lib/data.txt'), 'utf8'), 'from the tarball\n', 'ADD extracted the local tarball');
    assert.deepEqual([st('home/app/notes.txt').uid, st('home/app/notes.txt').gid], [2000, 2001], '--chown by name, from the image\'s /etc/passwd');
    assert.ok(!fs.existsSync(path.join(tree, 'debug.log')) && !fs.existsSync(path.join(tree, 'opt/app/etc/debug.log')));
    assert.ok(st('opt/app/build').isDirectory(), 'WORKDIR made its folder in the first stage');

    const run = await cli(['run', '--rm', 'app:1']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'version=2.5 flavour=spicy\n');
    const who = await cli(['run', '--rm', 'app:1', 'id -u; pwd; echo $APP_HOME; hello || echo denied']);
    assert.equal(who.stdout, '2000\n/home/app\n/opt/app\ndenied\n', 'USER, WORKDIR and ENV apply when the image runs; --chmod=750 for 1234:5678 keeps user app out');
    const root = await cli(['run', '--rm', '-u', '0', 'app:1', 'hello']);
    assert.equal(root.stdout, 'hello from bin\n', 'ENV PATH finds the copied program');
  });

  test('a rebuild with no change is all cache, gives the same digest, and is quick', T, async () => {
    const first = await cli(['build', '-q', '-t', 'app:1', '--build-arg', 'VERSION=2.5', '--build-arg', 'FLAVOUR=spicy', ctx]);
    const started = process.hrtime.bigint();
    const again = await cli(['build', '-t', 'app:1', '--build-arg', 'VERSION=2.5', '--build-arg', 'FLAVOUR=spicy', ctx]);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    process.stdout.write(`# no-change rebuild through the CLI: ${ms.toFixed(0)} ms\n`);
    assert.equal(again.code, 0, again.stderr);
    const steps = again.stdout.split('\n').filter((l) => /STEP \d+\/\d+:/.test(l) && !/: FROM /.test(l)).length;
    assert.equal((again.stdout.match(/^--> Using cache /gm) ?? []).length, steps, 'every step after FROM came from the cache');
    assert.doesNotMatch(again.stdout, /^built in/m, 'no RUN ran');
    assert.equal(again.stdout.trim().split('\n').pop(), first.stdout.trim());
    assert.ok(ms < 5000, `a no-change rebuild took ${ms} ms`);
    const other = await cli(['build', '-q', '-t', 'app:2', '--build-arg', 'VERSION=3', '--build-arg', 'FLAVOUR=spicy', ctx]);
    assert.notEqual(other.stdout.trim(), first.stdout.trim(), 'a build argument RUN reads is part of its key');
  });

  test('--no-cache does every step again; -f and a tar context on stdin; --target', T, async () => {
    const fresh = await cli(['build', '--no-cache', '-t', 'app:nocache', '--build-arg', 'VERSION=2.5', ctx]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.doesNotMatch(fresh.stdout, /Using cache/);
    assert.match(fresh.stdout, /^built in \/opt\/app\/build$/m);

    const alt = path.join(fx.root, 'elsewhere.Dockerfile');
    fs.writeFileSync(alt, 'FROM base\nCOPY notes.txt /n.txt\nCMD ["cat", "/n.txt"]\n');
    const viaF = await cli(['build', '-t', 'alt:1', '-f', alt, ctx]);
    assert.equal(viaF.code, 0, viaF.stderr);
    assert.equal((await cli(['run', '--rm', 'alt:1'])).stdout, 'notes\n');

    fs.writeFileSync(path.join(ctx, 'Other.Dockerfile'), 'FROM base\nCOPY a.conf /a.conf\nCMD ["cat", "/a.conf"]\n');
    const piped = await runCmd('sh', ['-c', `tar -C '${ctx}' -cf - . | '${process.execPath}' '${BIN}' build -t stdin:1 -f Other.Dockerfile -`], { env: { ...process.env, ISOLA_ROOT: fx.root }, timeoutMs: 60_000 });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal((await cli(['run', '--rm', 'stdin:1'])).stdout, 'a=1\n');
    const lone = await runCmd('sh', ['-c', `printf 'FROM base\\nCMD ["echo","lone"]\\n' | '${process.execPath}' '${BIN}' build -q -t lone:1 -`], { env: { ...process.env, ISOLA_ROOT: fx.root }, timeoutMs: 60_000 });
    assert.equal(lone.code, 0, lone.stderr);
    assert.equal((await cli(['run', '--rm', 'lone:1'])).stdout, 'lone\n');

    const target = await cli(['build', '-t', 'builder:1', '--target', 'builder', ctx]);
    assert.equal(target.code, 0, target.stderr);
    assert.doesNotMatch(target.stdout, /\[2\/2\]/, 'only the target stage');
    assert.equal(fx.store.manifestOf('builder:1').config.config?.WorkingDir, '/opt/app/build');
  });

  test('RUN has no network unless --network bridge', T, async () => {
    fs.writeFileSync(path.join(fx.root, 'net.Dockerfile'), 'FROM base\nRUN echo interfaces: $(ls /sys/class/net | sort | tr "\\n" " ")\n');
    const none = await cli(['build', '--no-cache', '-f', path.join(fx.root, 'net.Dockerfile'), ctx]);
    assert.match(none.stdout, /^interfaces: lo$/m);
    const bridge = await cli(['build', '--no-cache', '--network', 'bridge', '-f', path.join(fx.root, 'net.Dockerfile'), ctx]);
    assert.match(bridge.stdout, /^interfaces: eth0 lo$/m);
  });

  test('bad input: one line with FILE:LINE, the documented status, nothing stored, no container left', T, async () => {
    const bad = path.join(fx.root, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'ok.txt'), 'ok');
    const cases: { df: string; code: number; line: RegExp; args?: string[] }[] = [
      { df: 'FROM base\nRUN true\nFETCH http://x /y\n', code: 125, line: /^isola: Dockerfile:3: unknown instruction: FETCH; / },
      { df: 'FROM base\nCOPY ../ctx/notes.txt /\n', code: 125, line: /^isola: Dockerfile:2: COPY \.\.\/ctx\/notes\.txt: forbidden path outside the build context; / },
      { df: 'ARG IMAGE\nFROM $IMAGE\nRUN true\n', code: 125, line: /^isola: Dockerfile:2: FROM \$IMAGE: the base image name is blank: build argument IMAGE has no value; pass --build-arg IMAGE=/ },
      { df: 'FROM base\nCOPY missing.txt /\n', code: 125, line: /^isola: Dockerfile:2: COPY missing\.txt: not found in the build context; / },
      { df: 'FROM base\nCOPY ok.txt /ok.txt\nRUN echo about to fail && exit 3\nRUN echo never\n', code: 1, line: /^isola: Dockerfile:3: step 3\/4 RUN echo about to fail && exit 3: failed with exit status 3; no image was tagged/ },
    ];
    for (const c of cases) {
      fs.writeFileSync(path.join(bad, 'Dockerfile'), c.df);
      const before = storedNames();
      const r = await cli(['build', '-t', 'bad:1', path.relative(process.cwd(), bad) === '' ? '.' : bad]);
      assert.equal(r.code, c.code, `${c.df}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.match(lines[lines.length - 1] ?? '', new RegExp(c.line.source.replace('Dockerfile:', '.*Dockerfile:')), c.df);
      assert.equal(r.stderr.match(/^isola: /gm)?.length, 1, 'one error line');
      assert.equal(fx.store.findDescriptor('bad:1'), undefined, 'no image tagged');
      if (c.code === 125) assert.equal(storedNames(), before, 'nothing stored');
    }
    assert.match((await cli(['build', '-t', 'bad:1', path.join(fx.root, 'nope')])).stderr, /^isola: build context ".*nope" is not a folder; /);
    const ps = await cli(['ps', '-a', '-q']);
    assert.equal(ps.stdout.trim(), '', 'the failed RUN\'s container was removed');
  });
});
