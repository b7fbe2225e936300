#!/usr/bin/env -S node --
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run bootstrap`, `npm run build`,
// `npm test` or `npm run demo`). Exit 125 with the fix when it has not been built yet.
// It runs the one-file bundle of the CLI with its code cache when the build made one that
// matches the tsc output (src/cli/bundle-loader.ts), and the tsc modules otherwise.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const cli = new URL('../dist/src/cli/', import.meta.url);
const main = new URL('main.js', cli);
if (!existsSync(main)) {
  process.stderr.write('isola: the CLI is not built yet (dist/ is missing); run npm run bootstrap first\n');
  process.exit(125);
}
const loaderUrl = new URL('bundle-loader.js', cli);
const loader = existsSync(loaderUrl) ? await import(loaderUrl.href) : null;
const bundled = loader?.wantsBundle(argv) ? loader.loadBundle(fileURLToPath(cli)) : null;
const run = bundled?.main ?? (await import(main.href)).main;
process.exitCode = await run(argv);
