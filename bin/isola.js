#!/usr/bin/env -S node --
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run bootstrap`, `npm test` or
// `npm run demo`). Exit 125 with the fix when it has not been built yet.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('isola: the CLI is not built yet (dist/ is missing); run npm run bootstrap first\n');
  process.exit(125);
}
const { main: run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
