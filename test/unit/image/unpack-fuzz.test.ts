import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { unpackLayers } from '../../../src/image/unpack.js';
import { IsolaError } from '../../../src/core/errors.js';
import { rawTar, type RawEntry } from '../../helpers/raw-tar.js';

/**
 * A fuzzer, not a list: fast-check generates hostile layers (names with `..`, `.`, `/`,
 * whiteouts, opaque markers, long names in PAX records and GNU entries, symlink and hard-link
 * chains, duplicates, truncated archives and sizes that lie) and unpacks each, on top of a
 * target that already holds symlinks pointing out of it, inside a sandbox folder. After every
 * case, nothing in the sandbox outside the target may have been created, changed or removed,
 * nothing may appear at an absolute host path the archive names, and every failure must be
 * one of isola's own errors, never a crash.
 *
 * Replay a failure with the seed and path it prints:
 *   ISOLA_FUZZ_SEED=<seed> ISOLA_FUZZ_PATH=<path> node --test dist/test/unit/image/unpack-fuzz.test.js
 */
const RUNS = Number(process.env.ISOLA_FUZZ_RUNS ?? 10_000);
const SEED = process.env.ISOLA_FUZZ_SEED !== undefined ? Number(process.env.ISOLA_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const REPLAY_PATH = process.env.ISOLA_FUZZ_PATH;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-fuzz-'));
/** An absolute host path the archives name: it must never come into being. */
const CANARY = path.join(os.tmpdir(), `isola-fuzz-canary-${process.pid}`);

/** The sandbox: bait outside the target, and a target whose own symlinks point out of it. */
function makeSandbox(n: number): { box: string; target: string } {
  const box = path.join(work, String(n));
  const outside = path.join(box, 'outside');
  const target = path.join(box, 'target');
  fs.mkdirSync(path.join(outside, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'keep'), 'original');
  fs.writeFileSync(path.join(outside, 'dir', 'inner'), 'inner');
  fs.mkdirSync(path.join(target, 'usr', 'lib'), { recursive: true });
  fs.writeFileSync(path.join(target, 'f'), 'file');
  fs.symlinkSync('../outside', path.join(target, 'escape'));
  fs.symlinkSync('/', path.join(target, 'abs'));
  fs.symlinkSync(outside, path.join(target, 'hostabs'));
  fs.symlinkSync('usr/lib', path.join(target, 'lib'));
  fs.symlinkSync('loop', path.join(target, 'loop'));
  fs.linkSync(path.join(outside, 'keep'), path.join(box, 'hardkeep'));
  return { box, target };
}

/** Every path under `dir` but `skip`, with what it is: type, mode, owner, size, content, link target. */
function snapshot(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string): void => {
    if (p === skip) return;
    const st = fs.lstatSync(p);
    let what = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.nlink} ${st.mtimeMs}`;
    if (st.isSymbolicLink()) what += ` -> ${fs.readlinkSync(p)}`;
    else if (st.isFile()) what += ` ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
    out.set(path.relative(dir, p) || '.', what);
    if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
  };
  walk(dir);
  return out;
}

const component = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('..', '.', '', 'a', 'b', 'f', 'escape', 'abs', 'hostabs', 'lib', 'usr', 'loop', 'outside', 'keep', 'tmp', path.basename(CANARY)) },
  { weight: 3, arbitrary: fc.constantFrom('.wh.a', '.wh.f', '.wh..', '.wh...', '.wh.', '.wh..wh..opq', '.wh.escape', '.wh.keep', '.wh.outside') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 300 }).map((n) => 'x'.repeat(n)) },
);

const entryPath = fc.tuple(
  fc.constantFrom('', '', '', '/', './', '../', path.dirname(CANARY) + '/', path.join(work, '..') + '/'),
  fc.array(component, { minLength: 0, maxLength: 6 }),
  fc.constantFrom('', '', '/'),
).map(([prefix, parts, suffix]) => `${prefix}${parts.join('/')}${suffix}`);

const entry: fc.Arbitrary<RawEntry> = fc.record({
  path: entryPath,
  type: fc.constantFrom('file', 'file', 'dir', 'symlink', 'hardlink', 'char', 'fifo'),
  linkpath: entryPath,
  body: fc.string({ maxLength: 40 }),
  mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o000, 0o777),
  encoding: fc.constantFrom('ustar', 'ustar', 'pax', 'gnu'),
  sizeField: fc.option(fc.integer({ min: 0, max: 5000 }), { freq: 8 }),
}, { requiredKeys: ['path', 'type'] }).map((e) => {
  const out: RawEntry = { path: e.path, type: e.type };
  if (e.mode !== undefined) out.mode = e.mode;
  if (e.encoding !== undefined) out.encoding = e.encoding;
  if ((e.type === 'symlink' || e.type === 'hardlink') && e.linkpath) out.linkpath = e.linkpath;
  if (e.type === 'file' && e.body !== undefined) out.body = e.body;
  if (e.sizeField !== undefined && e.sizeField !== null) out.sizeField = e.sizeField;
  return out;
});

/** A layer: entries (duplicates likely, the name space is small), sometimes cut short. */
const layer = fc.tuple(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.option(fc.nat(), { freq: 6 }))
  .map(([entries, cut]) => {
    const bytes = rawTar(entries);
    return cut === null || cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length);
  });

/** A hostile archive must not hang the unpacker either. */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`unpack did not finish within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test(`unpacking ${RUNS} generated hostile layer sets changes nothing outside the target`, { timeout: 30 * 60_000 }, async () => {
  let n = 0;
  const property = fc.asyncProperty(fc.array(layer, { minLength: 1, maxLength: 3 }), async (layers) => {
    const { box, target } = makeSandbox(n++);
    try {
      const files = layers.map((l, i) => {
        const f = path.join(box, `layer${i}.tar`);
        fs.writeFileSync(f, l);
        return f;
      });
      const before = snapshot(box, target);
      try {
        await withDeadline(unpackLayers(files, target, { maxBytes: 1 << 20, maxEntries: 1000 }), 10_000);
      } catch (e) {
        if (!(e instanceof IsolaError)) throw new Error(`not an isola error: ${(e as Error).stack ?? String(e)}`, { cause: e });
      }
      assert.deepEqual(snapshot(box, target), before, 'something outside the target changed');
      assert.equal(fs.existsSync(CANARY), false, `${CANARY} was created`);
    } finally {
      fs.rmSync(box, { recursive: true, force: true });
    }
  });
  try {
    await fc.assert(property, { numRuns: RUNS, seed: SEED, ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}), endOnFailure: false });
  } catch (e) {
    const m = /seed: (-?\d+), path: "([^"]*)"/.exec(String((e as Error).message));
    throw new Error(`${(e as Error).message}\nreplay: ISOLA_FUZZ_SEED=${m?.[1] ?? SEED} ISOLA_FUZZ_PATH=${m?.[2] ?? ''} ISOLA_FUZZ_RUNS=1 node --test dist/test/unit/image/unpack-fuzz.test.js`, { cause: e });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(CANARY, { recursive: true, force: true });
  }
});
