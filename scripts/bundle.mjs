// The CLI as one CommonJS script plus V8's code cache for it (src/cli/bundle-loader.ts says how
// bin/isola.js uses them). Run after tsc by `npm run build` and scripts/bootstrap.sh: it bundles
// the tsc output (dist/src/cli/main.js), not the TypeScript, so the bundle is the same code.
//
// isola's own modules and commander go into the bundle; the other packages stay in node_modules
// and are required where they are used (better-sqlite3 is native; the rest are large and off the
// short commands' path, so bundling them would only make every command read and map more).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'dist', 'src', 'cli');
const ENTRY = path.join(CLI, 'main.js');
const LOADER = path.join(CLI, 'bundle-loader.js');
/** Commands run once at build time so that the cache holds their functions compiled (help only: no side effects). */
const WARM = [['run', '--help'], ['ps', '--help'], ['rm', '--help']];

const say = (s) => process.stderr.write(`bundle: ${s}\n`);

if (!fs.existsSync(ENTRY) || !fs.existsSync(LOADER)) {
  say('dist/src/cli is not built: run tsc -p tsconfig.json first');
  process.exit(1);
}
const loader = await import(pathToFileURL(LOADER).href);
const build = await import(pathToFileURL(path.join(CLI, 'bundle-build.js')).href);
const manifestFile = path.join(CLI, loader.MANIFEST_FILE);
const bundleFile = path.join(CLI, loader.BUNDLE_FILE);
// The manifest goes first: a build stopped half way leaves no bundle that bin/isola.js would use.
fs.rmSync(manifestFile, { force: true });
for (const f of fs.readdirSync(CLI)) if (/^main\.bundle\.[0-9a-f]{16}\.cache$/.test(f)) fs.rmSync(path.join(CLI, f), { force: true });

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  say('esbuild is not installed (npm ci installs it): the CLI runs from the tsc modules, slower to start');
  process.exit(0);
}

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
// better-sqlite3's JavaScript (14 small files) goes in too; its addon is loaded by path (db.ts).
const external = Object.keys(pkg.dependencies ?? {}).filter((d) => d !== 'commander' && d !== 'better-sqlite3');
const stamp = loader.readStamp(CLI);
if (!stamp) {
  say('dist/.tsbuildinfo is missing: the bundle could not be matched to the build, so none is made');
  process.exit(1);
}
const out = await esbuild.build({
  entryPoints: [ENTRY],
  absWorkingDir: REPO,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external,
  // import() of a package becomes require() (every package has a CommonJS entry); a script run
  // by vm.Script has no module loader of its own for import().
  supported: { 'dynamic-import': false },
  // Every import.meta.url is the bundle's: it sits in dist/src/cli/, as deep as every compiled
  // module, so the paths built from it ('../../../package.json', bin/, web/) stay right.
  define: { 'import.meta.url': '__isolaMetaUrl' },
  banner: { js: '"use strict";var __isolaMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  logOverride: { 'empty-import-meta': 'error' },
  minifyWhitespace: true,
  keepNames: true,
  legalComments: 'none',
  write: false,
  metafile: true,
  logLevel: 'warning',
});
// A module's import.meta.url paths stay right only if it sits as deep as the bundle does.
const depth = (f) => path.relative(REPO, path.dirname(path.resolve(REPO, f))).split(path.sep).length;
const misplaced = Object.keys(out.metafile.inputs).filter((f) => f.startsWith('dist/') && depth(f) !== depth(bundleFile) && fs.readFileSync(path.resolve(REPO, f), 'utf8').includes('import.meta'));
if (misplaced.length) {
  say(`${misplaced.join(', ')} read import.meta.url from another depth than dist/src/cli/: no bundle made`);
  process.exit(1);
}
const text = Buffer.from(out.outputFiles[0].contents).toString('utf8');
const memoized = build.memoizeToEsm(text);
if (memoized === null) say('esbuild\'s __toESM helper is not the expected one: left as it is (only slower)');
const code = Buffer.from(memoized ?? text);
if (code.includes('import.meta')) {
  say('import.meta is left in the bundle: only import.meta.url is replaced; no bundle made');
  process.exit(1);
}
const sha256 = crypto.createHash('sha256').update(code).digest('hex');
const writeAtomic = (file, data) => {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
};
writeAtomic(bundleFile, code);

// The code cache: compile the bundle exactly as bin/isola.js will, run the warm-up commands
// with their output dropped, then save what V8 compiled.
const compiled = loader.runBundle(bundleFile, code.toString('utf8'));
const write = { out: process.stdout.write, err: process.stderr.write };
process.stdout.write = process.stderr.write = () => true;
try {
  for (const argv of WARM) await compiled.exports.main(argv);
} finally {
  process.stdout.write = write.out;
  process.stderr.write = write.err;
}
process.exitCode = undefined;
const cacheFile = loader.cacheFileName(sha256);
writeAtomic(path.join(CLI, cacheFile), compiled.script.createCachedData());

const manifest = { format: 1, bundle: loader.BUNDLE_FILE, bytes: code.length, sha256, stamp, cache: { file: cacheFile, runtime: loader.currentRuntime() } };
writeAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
say(`dist/src/cli/${loader.BUNDLE_FILE} (${(code.length / 1024).toFixed(0)} KiB) and its code cache (${cacheFile})`);
