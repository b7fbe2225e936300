import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../../helpers/fixture.js';
import { ASSUMPTIONS } from '../../../src/advise/assumptions.js';
import { RULES } from '../../../src/advise/rules.js';
import { CLAIMS } from '../../../src/bench/claims.js';

/** docs/CLAIMS.md must list every claim the code checks or uses, so that it cannot fall behind. */
const doc = fs.readFileSync(path.join(REPO, 'docs', 'CLAIMS.md'), 'utf8');
const rows = doc.split('\n').filter((l) => l.startsWith('| '));

test('CLAIMS.md lists every rule advise and plan use, with its section and verbatim quote', () => {
  for (const r of RULES) {
    const row = rows.find((l) => l.startsWith(`| ${r.id} |`));
    assert.ok(row, `no row for rule ${r.id}`);
    assert.ok(row.includes(`| ${r.section} |`), `${r.id}: section "${r.section}" missing`);
    assert.ok(row.includes(`"${r.quote}"`), `${r.id}: quote "${r.quote}" missing`);
    assert.ok(row.includes(`| ${r.role} |`), `${r.id}: role ${r.role} missing`);
  }
});

test('CLAIMS.md names every compare row with a claim, and every assumption taken from the comparison or a publication', () => {
  for (const id of Object.keys(CLAIMS)) assert.ok(doc.includes(`\`${id}\``), `compare row ${id} is not in CLAIMS.md`);
  for (const a of ASSUMPTIONS.filter((x) => x.provenance === 'comparison' || x.provenance === 'published')) {
    assert.ok(doc.includes(`\`${a.key}\``), `assumption ${a.key} (${a.provenance}) is not in CLAIMS.md`);
  }
});

test('README.md, COMPARE.md and ADVISE.md link to CLAIMS.md', () => {
  assert.match(fs.readFileSync(path.join(REPO, 'README.md'), 'utf8'), /\| \[docs\/CLAIMS\.md\]\(docs\/CLAIMS\.md\) \|/);
  for (const f of ['COMPARE.md', 'ADVISE.md']) assert.match(fs.readFileSync(path.join(REPO, 'docs', f), 'utf8'), /\]\(CLAIMS\.md(#[a-z-]+)?\)/, f);
});

// The comparison's text is kept next to the repository by the project, not shipped with it.
const sourcePath = [path.join(REPO, 'shared'), path.join(REPO, '..', 'shared')]
  .map((dir) => path.join(dir, 'seed', 'vm-vs-container.md'))
  .find((p) => fs.existsSync(p));
test('the performance, density and security figures CLAIMS.md quotes are verbatim in the comparison', { skip: sourcePath ? false : 'the source text is not next to this checkout' }, () => {
  const source = fs.readFileSync(sourcePath as string, 'utf8');
  const sections = ['## Performance table', '## Resource density example', '## Security table'];
  for (const heading of sections) {
    const start = doc.indexOf(heading);
    assert.ok(start >= 0, heading);
    const next = doc.indexOf('\n## ', start + heading.length);
    const body = doc.slice(start, next < 0 ? undefined : next);
    // In the tables, a VM or container cell that is only a quote holds the comparison's words.
    const table = body.split('\n').filter((l) => l.startsWith('| ')).slice(1);
    const quotes = heading === '## Resource density example'
      ? [...body.split('\n\n')[1]?.matchAll(/"([^"]+)"/g) ?? []].map((m) => m[1] as string)
      : table.filter((l) => !l.startsWith('|---')).flatMap((l) => l.split(' | ').slice(1, 3).map((c) => /^"(.*)"$/.exec(c.trim())?.[1]).filter((q): q is string => !!q));
    assert.ok(quotes.length >= 4, `${heading}: found ${quotes.length} quotes`);
    for (const q of quotes) assert.ok(source.includes(q), `${heading}: "${q}" is not verbatim in the comparison`);
  }
});
