import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { marked, type Token, type Tokens } from 'marked';
import { REPO } from '../../helpers/fixture.js';
import { configTableMarkdown } from '../../../src/core/config.js';

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? markdownFiles(p) : p.endsWith('.md') ? [p] : [];
  });
}

function allTokens(tokens: Token[]): Token[] {
  return tokens.flatMap((t) => [t, ...('tokens' in t && Array.isArray(t.tokens) ? allTokens(t.tokens) : [])]);
}

/**
 * A table broken by a blank line renders as a table and then a paragraph of `| ... |` lines;
 * a row with a cell too many or too few renders with cells lost or padded. Both are refused.
 */
export function tableProblems(markdown: string): string[] {
  const problems: string[] = [];
  for (const t of allTokens(marked.lexer(markdown))) {
    if (t.type === 'paragraph' && /^\|.*\|\s*$/m.test(t.raw)) problems.push(`table rows outside a table (a blank line inside a table?): ${t.raw.split('\n')[0]?.slice(0, 80)}`);
    if (t.type === 'table') {
      const table = t as Tokens.Table;
      const width = table.header.length;
      for (const line of table.raw.trim().split('\n').slice(2)) {
        const cells = line.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).length;
        if (cells !== width) problems.push(`row with ${cells} cells in a table of ${width} columns: ${line.slice(0, 80)}`);
      }
    }
  }
  return problems;
}

test('the table checker finds a broken table and a ragged row', () => {
  assert.deepEqual(tableProblems('| a | b |\n|---|---|\n| 1 | 2 |\n'), []);
  assert.equal(tableProblems('| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n').length, 1);
  assert.equal(tableProblems('| a | b |\n|---|---|\n| 1 | 2 | 3 |\n').length, 1);
  assert.deepEqual(tableProblems('| a | b |\n|---|---|\n| x\\|y | 2 |\n'), [], 'an escaped pipe is text');
});

test('every table in README.md and docs/ renders whole', () => {
  const found: string[] = [];
  for (const f of [path.join(REPO, 'README.md'), ...markdownFiles(path.join(REPO, 'docs'))]) {
    for (const p of tableProblems(fs.readFileSync(f, 'utf8'))) found.push(`${path.relative(REPO, f)}: ${p}`);
  }
  assert.deepEqual(found, []);
});

test('docs/CLI.md lists exactly the environment variables isola reads, as src/core/config.ts defines them', () => {
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'CLI.md'), 'utf8');
  assert.ok(doc.includes(configTableMarkdown()), `docs/CLI.md's Environment table differs from src/core/config.ts; it should read:\n${configTableMarkdown()}`);
});
