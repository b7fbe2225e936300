import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { TO_ESM_HELPER, memoizeToEsm } from '../../../src/cli/bundle-build.js';
import { BUNDLE_FILE } from '../../../src/cli/bundle-loader.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli');

/** Bundles a small module tree with the same esbuild and options as scripts/bundle.mjs, and runs it. */
async function bundleAndRun(t: { after: (fn: () => void) => void }, memo: boolean): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bundle-build-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'a.mjs'), "import * as ns from 'node:fs'; import fs from 'node:fs'; import c from './c.cjs'; export const a = { ns, fs, c };\n");
  fs.writeFileSync(path.join(dir, 'b.mjs'), "import * as ns from 'node:fs'; import { readFileSync } from 'node:fs'; import c, { x } from './c.cjs'; export const b = { ns, readFileSync, c, x };\n");
  fs.writeFileSync(path.join(dir, 'c.cjs'), "exports.__esModule = true; exports.default = 'D'; exports.x = 1;\n");
  fs.writeFileSync(path.join(dir, 'main.mjs'), "export { a } from './a.mjs'; export { b } from './b.mjs';\n");
  const out = await build({ entryPoints: [path.join(dir, 'main.mjs')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', minifyWhitespace: true, keepNames: true, write: false, logLevel: 'silent' });
  let code = Buffer.from(out.outputFiles[0]!.contents).toString('utf8');
  if (memo) {
    const changed = memoizeToEsm(code);
    assert.ok(changed, 'this esbuild writes the helper as memoizeToEsm expects');
    code = changed;
  }
  const module = { exports: {} as Record<string, unknown> };
  const file = path.join(dir, 'out.cjs');
  (vm.runInThisContext(`(function (exports, require, module) {${code}\n})`) as (...a: unknown[]) => void)(module.exports, createRequire(file), module);
  return module.exports;
}

test('memoizeToEsm: one wrapper per module however often it is imported, with the same contents as before', async (t) => {
  type AB = { a: { ns: Record<string, unknown>; fs: typeof fs; c: unknown }; b: { ns: Record<string, unknown>; readFileSync: unknown; c: unknown; x: unknown } };
  const plain = await bundleAndRun(t, false) as unknown as AB;
  const memo = await bundleAndRun(t, true) as unknown as AB;
  assert.notEqual(plain.a.ns, plain.b.ns, 'esbuild alone wraps at every import');
  assert.equal(memo.a.ns, memo.b.ns, 'memoized: one wrapper');
  for (const r of [plain, memo]) {
    assert.equal(r.a.fs, fs);
    assert.equal(r.b.readFileSync, fs.readFileSync);
    assert.equal(r.a.ns.readFileSync, fs.readFileSync);
    assert.equal(r.a.ns.default, fs);
    assert.deepEqual(Object.keys(r.a.ns).sort(), Object.keys(plain.b.ns).sort());
    // Node's rules for a CommonJS module imported from an .mjs file: default is module.exports.
    assert.deepEqual(r.a.c, { __esModule: true, default: 'D', x: 1 });
    assert.equal(r.b.x, 1);
  }
});

test('memoizeToEsm leaves output without the expected helper alone', () => {
  const helper = (name: string) => `var __toESM=(mod,isNodeMode,${name})=>(`;
  assert.equal(memoizeToEsm('var x=1;'), null);
  assert.equal(memoizeToEsm('var __toESM=(mod)=>('), null);
  assert.equal(memoizeToEsm(`${helper('target')}1);${helper('target2')}2);`), null);
  assert.match(memoizeToEsm(`a;${helper('target2')}1);b;`) ?? '', /^a;var __isolaToESM=new WeakMap\(\);.*var __toESMOnce=\(mod,isNodeMode,target2\)=>\(1\);b;$/);
});

test('the built bundle has the memoized helper', () => {
  const code = fs.readFileSync(path.join(CLI, BUNDLE_FILE), 'utf8');
  assert.ok(code.includes('var __isolaToESM=new WeakMap()'), 'run npm run build');
  assert.equal([...code.matchAll(TO_ESM_HELPER)].length, 0);
});
