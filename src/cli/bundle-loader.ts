import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';

/**
 * The CLI as one script, with V8's code cache for it (bin/isola.js tries this first).
 *
 * Loading isola's ES modules one by one (resolve, read, compile ~80 files, commander) is a
 * visible share of a short command on a small host; `scripts/bundle.mjs` (run by `npm run build`
 * and bootstrap, after tsc) turns the compiled CLI into one CommonJS file, `main.bundle.cjs`, and
 * saves V8's compiled code for it, so a run reads two files and compiles almost nothing.
 *
 * The tsc output stays the truth: the bundle is used only while its manifest says it was made
 * from the current build (the stamp of `dist/.tsbuildinfo`, which every emitting tsc run
 * rewrites) and its size is the recorded one; anything else, and bin/isola.js loads the tsc
 * modules as before. The code cache is keyed by the bundle's hash and the Node build that made
 * it; a cache for another bundle or another Node is not read, and one V8 refuses is only slower.
 */

export const MANIFEST_FILE = 'main.bundle.json';
export const BUNDLE_FILE = 'main.bundle.cjs';
/** `dist/.tsbuildinfo` seen from dist/src/cli/ (tsconfig's tsBuildInfoFile). */
export const BUILD_INFO = '../../.tsbuildinfo';

/** What tsc's last emit left: the build info's size and modification time. */
export interface BuildStamp {
  size: number;
  mtimeMs: number;
}

/** The Node build a code cache belongs to: V8 refuses another's, so it is not even read. */
export interface RuntimeId {
  node: string;
  v8: string;
  arch: string;
}

export interface BundleManifest {
  format: 1;
  /** The bundle's file name, beside the manifest. */
  bundle: string;
  /** Its size in bytes (a cheap check against a file changed after the build). */
  bytes: number;
  /** sha256 of the bundle, hex: the code cache's key. */
  sha256: string;
  /** The build the bundle was made from. */
  stamp: BuildStamp;
  /** The code cache, when one was made. */
  cache?: { file: string; runtime: RuntimeId };
}

/** The code cache's file name for a bundle of this hash. */
export function cacheFileName(sha256: string): string {
  return `main.bundle.${sha256.slice(0, 16)}.cache`;
}

export function currentRuntime(): RuntimeId {
  return { node: process.version, v8: process.versions.v8, arch: process.arch };
}

/** The stamp of the last tsc emit, or null when there is no build info. */
export function readStamp(cliDir: string): BuildStamp | null {
  try {
    const st = fs.statSync(path.join(cliDir, BUILD_INFO));
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

export type ManifestCheck =
  | { use: true; bundle: string; cache: string | null }
  | { use: false; why: string };

/**
 * Whether a manifest's bundle may stand for the tsc output now, and which code cache goes with
 * it (null: compile without one). Pure: the caller gives what it found on disk.
 */
export function checkManifest(manifest: unknown, found: { stamp: BuildStamp | null; bundleBytes: number | null; runtime: RuntimeId }): ManifestCheck {
  const m = manifest as Partial<BundleManifest> | null;
  if (!m || typeof m !== 'object' || m.format !== 1 || typeof m.bundle !== 'string' || typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256) || !m.stamp) {
    return { use: false, why: 'the bundle manifest is not one this loader reads' };
  }
  if (!found.stamp) return { use: false, why: 'no tsc build info: the bundle cannot be matched to a build' };
  if (found.stamp.size !== m.stamp.size || found.stamp.mtimeMs !== m.stamp.mtimeMs) return { use: false, why: 'tsc emitted since the bundle was made (run npm run build)' };
  if (found.bundleBytes !== m.bytes) return { use: false, why: 'the bundle is missing or not the one the manifest describes' };
  const c = m.cache;
  const cacheFits = !!c && c.file === cacheFileName(m.sha256) && c.runtime?.node === found.runtime.node && c.runtime.v8 === found.runtime.v8 && c.runtime.arch === found.runtime.arch;
  return { use: true, bundle: m.bundle, cache: cacheFits ? c.file : null };
}

/** The CommonJS wrapper, the same when the cache is made and when it is used (V8 checks the source). */
export function wrapBundle(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

export interface CompiledBundle {
  script: vm.Script;
  exports: Record<string, unknown>;
  /** True when a cache was given and V8 refused it (another V8, other flags, another source). */
  cacheRejected: boolean;
}

/** Compiles and runs the bundle as CommonJS (its own require, __filename) with an optional code cache. */
export function runBundle(file: string, source: string, cachedData?: Buffer): CompiledBundle {
  const script = new vm.Script(wrapBundle(source), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const fn = script.runInThisContext() as (...a: unknown[]) => void;
  const module = { exports: {} as Record<string, unknown> };
  fn.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return { script, exports: module.exports, cacheRejected: !!cachedData && script.cachedDataRejected === true };
}

/**
 * Whether a command is worth the bundle: `isola --version` answers from two small modules
 * (src/cli/main.ts), quicker than reading the bundle and its cache.
 */
export function wantsBundle(argv: readonly string[]): boolean {
  return !(argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v'));
}

export type CliMain = (argv: string[]) => Promise<number>;

export type LoadResult =
  | { main: CliMain; cache: 'used' | 'rejected' | 'none' }
  | { main: null; why: string };

/** The bundled CLI's main from `cliDir` (dist/src/cli), or why the tsc modules are to be used. */
export function loadBundle(cliDir: string): LoadResult {
  let manifest: unknown;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(cliDir, MANIFEST_FILE), 'utf8'));
  } catch {
    return { main: null, why: 'no bundle (run npm run build)' };
  }
  const m = manifest as Partial<BundleManifest>;
  const file = typeof m.bundle === 'string' ? path.join(cliDir, path.basename(m.bundle)) : '';
  let bytes: Buffer | null = null;
  try {
    if (file) bytes = fs.readFileSync(file);
  } catch {
    bytes = null;
  }
  const check = checkManifest(manifest, { stamp: readStamp(cliDir), bundleBytes: bytes?.length ?? null, runtime: currentRuntime() });
  if (!check.use || bytes === null) return { main: null, why: check.use ? 'the bundle is missing' : check.why };
  const source = bytes.toString('utf8');
  let cachedData: Buffer | undefined;
  try {
    if (check.cache) cachedData = fs.readFileSync(path.join(cliDir, path.basename(check.cache)));
  } catch {
    cachedData = undefined;
  }
  const compiled = runBundle(file, source, cachedData);
  const main = compiled.exports.main;
  if (typeof main !== 'function') return { main: null, why: 'the bundle has no main' };
  return { main: main as CliMain, cache: cachedData ? (compiled.cacheRejected ? 'rejected' : 'used') : 'none' };
}
