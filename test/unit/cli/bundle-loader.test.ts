import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  BUNDLE_FILE, MANIFEST_FILE, cacheFileName, checkManifest, currentRuntime, loadBundle, readStamp, runBundle, wantsBundle,
  type BundleManifest,
} from '../../../src/cli/bundle-loader.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli');
const SHA = 'a'.repeat(64);
const stamp = { size: 1000, mtimeMs: 1796000000000.5 };
const manifest = (over: Partial<BundleManifest> = {}): BundleManifest => ({
  format: 1, bundle: BUNDLE_FILE, bytes: 42, sha256: SHA, stamp, cache: { file: cacheFileName(SHA), runtime: currentRuntime() }, ...over,
});
const found = { stamp, bundleBytes: 42, runtime: currentRuntime() };

test('the bundle stands for the build it was made from, and its cache for its own hash and Node', () => {
  assert.deepEqual(checkManifest(manifest(), found), { use: true, bundle: BUNDLE_FILE, cache: cacheFileName(SHA) });
  // tsc emitted since (the build info changed), or there is no build info: the tsc modules.
  assert.equal(checkManifest(manifest(), { ...found, stamp: { ...stamp, mtimeMs: stamp.mtimeMs + 1 } }).use, false);
  assert.equal(checkManifest(manifest(), { ...found, stamp: { ...stamp, size: 999 } }).use, false);
  assert.equal(checkManifest(manifest(), { ...found, stamp: null }).use, false);
  // The bundle is not the one described (missing, or another size).
  assert.equal(checkManifest(manifest(), { ...found, bundleBytes: null }).use, false);
  assert.equal(checkManifest(manifest(), { ...found, bundleBytes: 43 }).use, false);
  // Manifests this loader does not know.
  for (const m of [null, 'x', {}, { ...manifest(), format: 2 }, { ...manifest(), sha256: 'abc' }, { ...manifest(), stamp: undefined }]) {
    assert.equal(checkManifest(m, found).use, false, JSON.stringify(m));
  }
  // A cache for another bundle or another Node is not read; the bundle still is.
  const other = { ...currentRuntime(), node: 'v0.0.0' };
  assert.deepEqual(checkManifest(manifest({ cache: { file: cacheFileName(SHA), runtime: other } }), found), { use: true, bundle: BUNDLE_FILE, cache: null });
  assert.deepEqual(checkManifest(manifest({ cache: { file: cacheFileName('b'.repeat(64)), runtime: currentRuntime() } }), found), { use: true, bundle: BUNDLE_FILE, cache: null });
  assert.deepEqual(checkManifest(manifest({ cache: undefined }), found), { use: true, bundle: BUNDLE_FILE, cache: null });
  assert.notEqual(cacheFileName(SHA), cacheFileName('b'.repeat(64)));
});

test('isola --version skips the bundle; every other command takes it', () => {
  assert.equal(wantsBundle(['--version']), false);
  assert.equal(wantsBundle(['-v']), false);
  assert.equal(wantsBundle(['run', '--version']), true);
  assert.equal(wantsBundle(['ps']), true);
  assert.equal(wantsBundle([]), true);
});

test('loadBundle: a matching bundle runs with its code cache; a stale, missing or broken one falls back', (t) => {
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bundle-'));
  t.after(() => fs.rmSync(dist, { recursive: true, force: true }));
  const cli = path.join(dist, 'src', 'cli');
  fs.mkdirSync(cli, { recursive: true });
  fs.writeFileSync(path.join(dist, '.tsbuildinfo'), '{}');
  const code = Buffer.from('"use strict";exports.main = async (argv) => argv.length + (typeof require === "function" ? 100 : 0) + (__filename.endsWith("main.bundle.cjs") ? 1000 : 0);\n');
  const file = path.join(cli, BUNDLE_FILE);
  fs.writeFileSync(file, code);
  const sha = crypto.createHash('sha256').update(code).digest('hex');
  const made = runBundle(file, code.toString('utf8'));
  fs.writeFileSync(path.join(cli, cacheFileName(sha)), made.script.createCachedData());
  const write = (m: BundleManifest) => fs.writeFileSync(path.join(cli, MANIFEST_FILE), JSON.stringify(m));
  const stampNow = readStamp(cli);
  assert.ok(stampNow);
  write({ format: 1, bundle: BUNDLE_FILE, bytes: code.length, sha256: sha, stamp: stampNow, cache: { file: cacheFileName(sha), runtime: currentRuntime() } });

  const ok = loadBundle(cli);
  assert.ok(ok.main, 'why' in ok ? ok.why : '');
  assert.equal(ok.cache, 'used');
  return ok.main(['a', 'b']).then((n) => {
    assert.equal(n, 1102, 'CommonJS wrapper: require and __filename are the bundle\'s');
    // A cache V8 refuses (made for another source) only costs time. (A new source: V8 would
    // answer one compiled before in this process from memory, without looking at the cache.)
    const code2 = Buffer.concat([code, Buffer.from('// another build\n')]);
    const sha2 = crypto.createHash('sha256').update(code2).digest('hex');
    fs.writeFileSync(file, code2);
    fs.copyFileSync(path.join(cli, cacheFileName(sha)), path.join(cli, cacheFileName(sha2)));
    write({ format: 1, bundle: BUNDLE_FILE, bytes: code2.length, sha256: sha2, stamp: stampNow, cache: { file: cacheFileName(sha2), runtime: currentRuntime() } });
    const refused = loadBundle(cli);
    assert.ok(refused.main);
    assert.equal(refused.cache, 'rejected');
    fs.writeFileSync(file, code);
    write({ format: 1, bundle: BUNDLE_FILE, bytes: code.length, sha256: sha, stamp: stampNow, cache: { file: cacheFileName(sha), runtime: currentRuntime() } });
    // tsc emitted since: the tsc modules.
    fs.utimesSync(path.join(dist, '.tsbuildinfo'), new Date(), new Date(Date.now() + 5000));
    const stale = loadBundle(cli);
    assert.equal(stale.main, null);
    assert.match('why' in stale ? stale.why : '', /tsc emitted since/);
    // Back in step, but the bundle changed after the build.
    write({ format: 1, bundle: BUNDLE_FILE, bytes: code.length, sha256: sha, stamp: readStamp(cli)!, cache: { file: cacheFileName(sha), runtime: currentRuntime() } });
    assert.ok(loadBundle(cli).main);
    fs.appendFileSync(file, '//');
    assert.equal(loadBundle(cli).main, null);
    fs.rmSync(file);
    assert.equal(loadBundle(cli).main, null);
    fs.rmSync(path.join(cli, MANIFEST_FILE));
    const none = loadBundle(cli);
    assert.match('why' in none ? none.why : '', /no bundle/);
  });
});

/**
 * The built bundle against the tsc modules it was made from: every verb's help (each verb's
 * modules evaluated), the top-level help, a flag error and a real command, in one child process,
 * output and status compared. Needs `npm run build` (bootstrap runs it).
 */
test('the built bundle answers exactly as the tsc modules do', () => {
  const state = loadBundle(CLI);
  assert.ok(state.main, `the bundle is not usable: ${'why' in state ? state.why : ''}`);
  assert.equal(state.cache, 'used', 'the build made a code cache that this Node takes');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bundle-root-'));
  try {
    const script = `
      const { loadBundle } = await import(${JSON.stringify(path.join(CLI, 'bundle-loader.js'))});
      const { main: tsc } = await import(${JSON.stringify(path.join(CLI, 'main.js'))});
      const { main: bundle } = loadBundle(${JSON.stringify(CLI)});
      const { VERBS } = await import(${JSON.stringify(path.join(CLI, 'verbs.js'))});
      const capture = async (main, argv) => {
        let out = '';
        const w = [process.stdout.write, process.stderr.write];
        process.stdout.write = (s) => { out += 'O:' + s; return true; };
        process.stderr.write = (s) => { out += 'E:' + s; return true; };
        process.exitCode = undefined;
        try { return { status: await main(argv), exitCode: process.exitCode, out }; } finally { [process.stdout.write, process.stderr.write] = w; }
      };
      const cases = [['--help'], ['--version'], ['run', '--no-such-flag'], ['nosuchverb'], ['ps', '-a', '--format', '{{.ID}}'], ['images', '--format', '{{.Repository}}'], ...VERBS.map((v) => [v, '--help'])];
      const diffs = [];
      for (const argv of cases) {
        const a = await capture(tsc, argv), b = await capture(bundle, argv);
        if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push({ argv, tsc: a, bundle: b });
      }
      process.stdout.write(JSON.stringify({ n: cases.length, diffs }));
    `;
    const res = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ISOLA_ROOT: root }, encoding: 'utf8' })) as { n: number; diffs: unknown[] };
    assert.ok(res.n > 30, `${res.n} cases`);
    assert.deepEqual(res.diffs, []);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
