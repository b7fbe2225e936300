import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBuild, type BaseImage, type PlanOptions } from '../../../src/image/build/plan.js';
import { processWord, processWords } from '../../../src/image/build/shell-words.js';
import { foldLines } from '../../../src/image/build/dockerfile.js';
import { parseDuration } from '../../../src/image/build/healthcheck.js';
import type { CopyStep, RunStep, Step } from '../../../src/image/build/steps.js';
import { isIsolaError } from '../../../src/core/errors.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A fake image source: every name resolves to a small image whose config the test chooses. */
function opts(over: Partial<PlanOptions> = {}, config: BaseImage['config']['config'] = { Env: ['PATH=/bin', 'HOME=/root'], Cmd: ['sh'] }): PlanOptions {
  return {
    file: 'Dockerfile', buildArgs: new Map(), network: 'none',
    resolveImage: async (ref) => ({ ref: ref.includes(':') ? ref : `${ref}:latest`, digest: DIGEST, config: { architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } } }),
    ...over,
  };
}

const last = (steps: Step[]): Step => steps[steps.length - 1] as Step;

test('word expansion follows Docker: quotes, escapes, defaults, and which variables were read', () => {
  const env = new Map([['A', '1'], ['EMPTY', ''], ['SP', 'x y']]);
  assert.equal(processWord('$A ${A} "$A" \'$A\' \\$A', env).value, '1 1 1 $A $A');
  assert.equal(processWord('${NOPE:-dflt} ${EMPTY:-e} ${EMPTY-e} ${A:+set} ${NOPE:+set}', env).value, 'dflt e  set ');
  assert.equal(processWord('"a\\"b" "c\\d"', env).value, 'a"b c\\d');
  assert.deepEqual(processWords('one "two words" $SP', env).value, ['one', 'two words', 'x', 'y']);
  assert.deepEqual([...processWord('$A ${B:-$C}', env).used].sort(), ['A', 'B', 'C']);
  assert.throws(() => processWord('"open', env), /double-quote/);
  assert.throws(() => processWord('${NOPE:?must be set}', env), /must be set/);
});

test('continuation lines join and comment lines inside an instruction drop out', () => {
  assert.equal(foldLines('echo a \\\n# note\n\n   && echo b', '\\'), 'echo a    && echo b');
  assert.equal(foldLines('echo a `\n  b', '`'), 'echo a   b');
});

test('Go durations as HEALTHCHECK writes them', () => {
  assert.equal(parseDuration('30s'), 30e9);
  assert.equal(parseDuration('1m30s'), 90e9);
  assert.equal(parseDuration('500ms'), 5e8);
  assert.throws(() => parseDuration('5'));
});

test('shell and exec forms: RUN, CMD and ENTRYPOINT, with SHELL changing the shell form', async () => {
  const plan = await planBuild([
    'FROM base',
    'RUN echo "$HOME" && true',
    'RUN ["echo", "exec form"]',
    'SHELL ["/bin/ash", "-eo", "pipefail", "-c"]',
    'RUN echo shell',
    'CMD echo hi',
    'ENTRYPOINT ["/entry"]',
  ].join('\n'), opts());
  const steps = plan.stages[0]?.steps ?? [];
  assert.deepEqual((steps[0] as RunStep).argv, ['/bin/sh', '-c', 'echo "$HOME" && true'], 'RUN is not expanded by the builder: the shell does it');
  assert.deepEqual((steps[1] as RunStep).argv, ['echo', 'exec form']);
  assert.deepEqual((steps[3] as RunStep).argv, ['/bin/ash', '-eo', 'pipefail', '-c', 'echo shell']);
  assert.deepEqual(steps[4]?.config.Cmd, ['/bin/ash', '-eo', 'pipefail', '-c', 'echo hi']);
  assert.deepEqual(last(steps).config.Entrypoint, ['/entry']);
  assert.deepEqual(last(steps).config.Cmd, ['/bin/ash', '-eo', 'pipefail', '-c', 'echo hi'], 'a CMD of this stage survives ENTRYPOINT');
  const inherited = await planBuild('FROM base\nENTRYPOINT ["/e"]', opts());
  assert.equal(last(inherited.stages[0]?.steps ?? []).config.Cmd, null, 'an inherited CMD is cleared by ENTRYPOINT, as Docker does');
});

test('ENV substitution: the base image\'s variables, one ENV line sees only what came before it', async () => {
  const plan = await planBuild([
    'FROM base',
    'ENV A=1 B=${A}x',
    'ENV C="$A $B" D=\'$A\' PATH=$PATH:/opt',
    'WORKDIR /srv/${A}',
    'WORKDIR sub',
    'COPY f* "$C/"',
    'COPY f* $C/',
  ].join('\n'), opts());
  const steps = plan.stages[0]?.steps ?? [];
  assert.deepEqual(steps[0]?.config.Env, ['PATH=/bin', 'HOME=/root', 'A=1', 'B=x'], 'B saw A from before the line, which was unset');
  assert.deepEqual(steps[1]?.config.Env, ['PATH=/bin:/opt', 'HOME=/root', 'A=1', 'B=x', 'C=1 x', 'D=$A'], 'a variable set again keeps its place');
  assert.equal(steps[3]?.config.WorkingDir, '/srv/1/sub');
  assert.equal((steps[4] as CopyStep).dest, '/srv/1/sub/1 x/', 'a relative destination is under WORKDIR; quoted, the value is one word');
  assert.deepEqual([(last(steps) as CopyStep).sources, (last(steps) as CopyStep).dest], [['f*', '1'], '/srv/1/sub/x/'], 'unquoted, an expansion splits into words, as in Docker');
});

test('ARG scoping: global ARGs serve FROM only, a stage sees them when it declares them again, --build-arg overrides', async () => {
  const df = [
    'ARG BASE=base',
    'ARG V=global',
    'FROM ${BASE}:1 AS one',
    'RUN echo $V',
    'ARG V',
    'RUN echo $V',
    'ARG W=local',
    'ENV W=env',
    'RUN echo $W',
    'FROM one',
    'RUN echo second',
  ].join('\n');
  const plan = await planBuild(df, opts({ buildArgs: new Map([['BASE', 'other'], ['UNUSED', 'x']]) }));
  const [one, two] = plan.stages;
  assert.deepEqual(one?.base, { kind: 'image', ref: 'other:1', digest: DIGEST }, '--build-arg BASE changed the FROM');
  const runs = (one?.steps ?? []).filter((s): s is RunStep => s.kind === 'run');
  assert.ok(!runs[0]?.env.some((e) => e.startsWith('V=')), 'a global ARG is not in a stage until declared there');
  assert.ok(runs[1]?.env.includes('V=global'));
  assert.match(runs[1]?.createdBy ?? '', /^RUN \|1 V=global \/bin\/sh -c echo \$V$/);
  assert.ok(runs[2]?.env.includes('W=env') && !runs[2]?.env.includes('W=local'), 'ENV wins over ARG');
  assert.deepEqual(two?.base, { kind: 'stage', index: 0 });
  assert.ok(!(two?.steps[0] as RunStep).env.some((e) => e.startsWith('V=')), 'stage ARGs end with their stage');
  assert.deepEqual(plan.unusedBuildArgs, ['UNUSED']);
});

test('stages: names, --target keeps only what the target needs, COPY --from by name or number', async () => {
  const df = [
    'FROM base AS deps',
    'RUN echo deps',
    'FROM base AS Unused',
    'RUN echo never',
    'FROM base AS app',
    'COPY --from=deps /a /a',
    'COPY --from=0 /b /b',
    'FROM app AS final',
    'CMD ["x"]',
  ].join('\n');
  const full = await planBuild(df, opts());
  assert.deepEqual(full.stages.map((s) => s.name), ['deps', 'app', 'final'], 'a stage nothing needs is not planned');
  const target = await planBuild(df, opts({ target: 'APP' }));
  assert.deepEqual(target.stages.map((s) => s.index), [0, 2]);
  const copies = (target.stages[1]?.steps ?? []) as CopyStep[];
  assert.deepEqual(copies.map((c) => c.from), [{ kind: 'stage', index: 0 }, { kind: 'stage', index: 0 }]);
  await assert.rejects(planBuild(df, opts({ target: 'nope' })), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /target stage "nope" could not be found/.test(e.message));
  const viaImage = await planBuild('FROM base\nCOPY --from=other:2 /x /x', opts());
  assert.deepEqual((viaImage.stages[0]?.steps[0] as CopyStep).from, { kind: 'image', ref: 'other:2', digest: DIGEST });
});

test('config instructions: every one lands where Docker puts it', async () => {
  const plan = await planBuild([
    'FROM base',
    'LABEL a=1 "b c"="d e"',
    'EXPOSE 80 53/udp 8000-8001/tcp',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /more',
    'USER app:staff',
    'STOPSIGNAL SIGQUIT',
    'HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD wget -q -O- localhost || exit 1',
    'MAINTAINER someone',
    'ONBUILD RUN echo triggered',
  ].join('\n'), opts());
  const c = last(plan.stages[0]?.steps ?? []).config;
  assert.deepEqual(c.Labels, { a: '1', 'b c': 'd e' });
  assert.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp']);
  assert.deepEqual(Object.keys(c.Volumes ?? {}).sort(), ['/data', '/logs', '/more']);
  assert.equal(c.User, 'app:staff');
  assert.equal(c.StopSignal, 'SIGQUIT');
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'wget -q -O- localhost || exit 1'], Interval: 5e9, Timeout: 2e9, StartPeriod: 1e9, Retries: 4 });
  assert.deepEqual(c.OnBuild, ['RUN echo triggered']);
  assert.equal(last(plan.stages[0]?.steps ?? []).author, 'someone');
  const none = await planBuild('FROM base\nHEALTHCHECK NONE', opts());
  assert.deepEqual(last(none.stages[0]?.steps ?? []).config.Healthcheck, { Test: ['NONE'] });
  const exec = await planBuild('FROM base\nHEALTHCHECK CMD ["/check", "-v"]', opts());
  assert.deepEqual(last(exec.stages[0]?.steps ?? []).config.Healthcheck, { Test: ['CMD', '/check', '-v'] });
});

test('ONBUILD triggers of the base run right after FROM and are not inherited', async () => {
  const plan = await planBuild('FROM base\nRUN echo mine', opts({}, { Env: ['PATH=/bin'], OnBuild: ['RUN echo trigger'] }));
  const steps = plan.stages[0]?.steps ?? [];
  assert.deepEqual(steps.map((s) => s.text), ['RUN echo trigger', 'RUN echo mine']);
  assert.equal(last(steps).config.OnBuild, null);
});

test('bad input: one error naming FILE:LINE, before anything is resolved or stored', async () => {
  const bad: [string, RegExp][] = [
    ['FROM base\nFOO bar', /^Dockerfile:2: unknown instruction: FOO/],
    ['RUN echo\nFROM base', /^Dockerfile:1: RUN before the first FROM/],
    ['ARG B\nFROM $B', /^Dockerfile:2: FROM \$B: the base image name is blank: build argument B has no value/],
    ['FROM base\nRUN', /^Dockerfile:2: RUN requires at least one argument/],
    ['FROM base\nCOPY onlyone', /^Dockerfile:2: COPY: needs at least one source and a destination/],
    ['FROM base\nCOPY a b /notadir', /^Dockerfile:2: COPY: with several sources .* must be a folder ending in \//],
    ['FROM base\nADD https://example.com/x /x', /^Dockerfile:2: ADD: a URL source .* is not supported/],
    ['FROM base\nEXPOSE 70000', /^Dockerfile:2: EXPOSE: invalid port "70000"/],
    ['FROM base\nSHELL /bin/sh -c', /^Dockerfile:2: SHELL: SHELL requires the arguments to be in JSON form/],
    ['FROM base\nRUN --mount=type=cache,target=/x true', /^Dockerfile:2: RUN: --mount is not supported/],
    ['FROM base\nCOPY --from=5 /a /a', /^Dockerfile:2: COPY --from=5: there is no earlier stage 5/],
    ['FROM base\nENV "x', /^Dockerfile:2: ENV: /],
    ['FROM base\nHEALTHCHECK --interval=5 CMD true', /^Dockerfile:2: HEALTHCHECK: "5" is not a duration/],
    ['FROM base\nRUN <<EOF\necho hi\nEOF', /^Dockerfile:2: RUN with a here-document/],
    ['# only a comment', /^Dockerfile: no FROM instruction/],
  ];
  for (const [df, re] of bad) {
    let resolved = 0;
    await assert.rejects(planBuild(df, opts({ resolveImage: async (ref) => (resolved++, opts().resolveImage(ref, 0)) })), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && re.test(e.message), df);
    if (/^(FOO|RUN echo)/.test(df.split('\n')[1] ?? df)) assert.equal(resolved, 0);
  }
});
