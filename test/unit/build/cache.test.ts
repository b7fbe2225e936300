import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SourceTree } from '../../../src/image/build/context.js';
import { matchPath } from '../../../src/image/build/glob.js';
import { stepKey } from '../../../src/image/build/cache.js';
import type { CopyStep, RunStep } from '../../../src/image/build/steps.js';

function tree(files: Record<string, string>, dockerignore?: string): { dir: string; t: SourceTree } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-ctx-'));
  for (const [f, c] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), c);
  }
  if (dockerignore !== undefined) fs.writeFileSync(path.join(dir, '.dockerignore'), dockerignore);
  return { dir, t: SourceTree.forContext(dir) };
}

const run: RunStep = {
  kind: 'run', line: 3, text: 'RUN make', createdBy: 'RUN /bin/sh -c make', config: { Env: ['PATH=/bin'] },
  argv: ['/bin/sh', '-c', 'make'], env: ['PATH=/bin'], user: '', workdir: '/', network: 'none',
};

test('cache keys cover parent, instruction, values and inputs, and nothing else', () => {
  const parent = `sha256:${'1'.repeat(64)}`;
  const k = stepKey(parent, run, {}, undefined);
  assert.match(k, /^sha256:[a-f0-9]{64}$/);
  assert.equal(stepKey(parent, { ...run, line: 9, text: 'RUN  make' }, {}, undefined), k, 'moving a step or re-spacing it keeps its key');
  const differs = [
    stepKey(`sha256:${'2'.repeat(64)}`, run, {}, undefined),
    stepKey(parent, { ...run, argv: ['/bin/sh', '-c', 'make all'] }, {}, undefined),
    stepKey(parent, { ...run, env: ['PATH=/bin', 'VERSION=2'] }, {}, undefined), // a build argument RUN sees
    stepKey(parent, { ...run, user: '1000' }, {}, undefined),
    stepKey(parent, { ...run, workdir: '/src' }, {}, undefined),
    stepKey(parent, { ...run, network: 'bridge' }, {}, undefined),
    stepKey(parent, run, { content: 'sha256:x' }, undefined),
    stepKey(parent, run, {}, 1700000000),
  ];
  assert.equal(new Set([k, ...differs]).size, differs.length + 1);
  const copy: CopyStep = { kind: 'copy', line: 1, text: 'COPY a /a', createdBy: 'COPY a /a', config: {}, add: false, sources: ['a'], dest: '/a', from: { kind: 'context' } };
  assert.notEqual(stepKey(parent, copy, {}, undefined), stepKey(parent, { ...copy, chmod: 0o600 }, {}, undefined), '--chmod counts');
  assert.notEqual(stepKey(parent, copy, {}, undefined), stepKey(parent, { ...copy, chown: '1:1' }, {}, undefined), '--chown counts');
});

test('the content digest of a COPY covers names, contents and modes, not times', async () => {
  const { dir, t } = tree({ 'a.txt': 'A', 'src/b.txt': 'B' });
  try {
    const d0 = await t.digest(['a.txt', 'src']);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, 'src/b.txt'), later, later);
    assert.equal(await new SourceTree(dir).digest(['a.txt', 'src']), d0, 'touching a file keeps the key (BuildKit leaves times out)');
    fs.chmodSync(path.join(dir, 'src/b.txt'), 0o755);
    const d1 = await new SourceTree(dir).digest(['a.txt', 'src']);
    assert.notEqual(d1, d0, 'a mode change is a change');
    fs.writeFileSync(path.join(dir, 'src/b.txt'), 'B2');
    assert.notEqual(await new SourceTree(dir).digest(['a.txt', 'src']), d1, 'a content change is a change');
    fs.writeFileSync(path.join(dir, 'unrelated.txt'), 'x');
    assert.notEqual(await new SourceTree(dir).digest(['*.txt']), await new SourceTree(dir).digest(['a.txt']), 'what a wildcard matches counts');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('.dockerignore: ignored files are absent to COPY, exceptions come back, ignored changes do not touch the key', async () => {
  const { dir, t } = tree({ 'app.js': '1', 'debug.log': 'x', 'logs/keep.log': 'k', 'logs/drop.log': 'd', 'node_modules/m/index.js': 'm', 'docs/a.md': 'a' }, '# comment\n*.log\nlogs/*.log\n!logs/keep.log\nnode_modules\ndocs/\n');
  try {
    assert.deepEqual(t.match(['*']).map((m) => m.rel).sort(), ['.dockerignore', 'app.js', 'logs'].sort());
    assert.deepEqual(t.entries(t.match(['logs'])[0] as never).map((e) => e.rel), ['keep.log'], 'an exception inside an ignored pattern comes back');
    assert.throws(() => t.match(['debug.log']), /not found in the build context \(or excluded by \.dockerignore\)/);
    assert.throws(() => t.match(['node_modules/m/index.js']), /excluded by \.dockerignore/);
    const before = await t.digest(['.']);
    fs.writeFileSync(path.join(dir, 'debug.log'), 'changed');
    fs.writeFileSync(path.join(dir, 'node_modules/m/index.js'), 'changed');
    assert.equal(await SourceTree.forContext(dir).digest(['.']), before, 'an ignored file cannot invalidate the cache');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sources stay inside the context: .. and symlinks out are refused, a missing source is named', () => {
  const { dir, t } = tree({ 'in.txt': 'i' });
  try {
    fs.symlinkSync('/etc/passwd', path.join(dir, 'out'));
    fs.symlinkSync('in.txt', path.join(dir, 'ok'));
    assert.throws(() => t.match(['../x']), (e: Error & { kind?: string }) => e.kind === 'outside' && /forbidden path outside the build context/.test(e.message));
    assert.throws(() => t.match(['sub/../../x']), (e: Error & { kind?: string }) => e.kind === 'outside');
    assert.throws(() => t.match(['out']), (e: Error & { kind?: string }) => e.kind === 'outside' && /a symlink to \/etc\/passwd/.test(e.message));
    assert.deepEqual(t.match(['ok']).map((m) => m.rel), ['ok'], 'a symlink inside is fine');
    assert.deepEqual(t.match(['/in.txt']).map((m) => m.rel), ['in.txt'], 'a leading / is the context root');
    assert.throws(() => t.match(['nope']), (e: Error & { kind?: string }) => e.kind === 'missing' && /nope: not found/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('wildcards match as Docker matches: * and ? within a component, classes, ** across', () => {
  assert.ok(matchPath('*.txt', 'a.txt'));
  assert.ok(!matchPath('*.txt', 'dir/a.txt'));
  assert.ok(matchPath('dir/?.txt', 'dir/a.txt'));
  assert.ok(matchPath('[a-c]*', 'beta'));
  assert.ok(!matchPath('[^a-c]*', 'beta'));
  assert.ok(matchPath('**/*.go', 'x/y/z.go'));
  assert.ok(matchPath('**/*.go', 'z.go'));
  assert.ok(!matchPath('src/**/*.go', 'other/z.go'));
});
