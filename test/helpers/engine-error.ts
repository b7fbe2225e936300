import assert from 'node:assert/strict';
import type { CliResult } from './fixture.js';

/**
 * isola's rule for bad input (docs/CLI.md, "Exit codes"): exit 125 and one line on stderr,
 * `isola: PROBLEM; FIX`, naming the problem (`pattern`) and how to fix it.
 */
export function assertEngineError(r: Pick<CliResult, 'code' | 'stderr'> & { stdout?: string }, pattern: RegExp): void {
  assert.equal(r.code, 125, `exit status: ${r.stderr}${r.stdout ?? ''}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0] ?? '', /^isola: /);
  assert.match(lines[0] ?? '', pattern);
  assert.match(lines[0] ?? '', /; /, 'the line carries a fix after the problem');
}
