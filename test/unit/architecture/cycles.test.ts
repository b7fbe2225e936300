import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO } from '../../helpers/fixture.js';

/** Every relative import of every file under src/, type-only ones included (TypeScript's own pre-parser reads them). */
export function importGraph(srcDir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const info = ts.preProcessFile(fs.readFileSync(p, 'utf8'), true, true);
        graph.set(p, info.importedFiles.map((f) => f.fileName).filter((f) => f.startsWith('.')).map((f) => path.resolve(path.dirname(p), f.replace(/\.js$/, '.ts'))));
      }
    }
  };
  walk(srcDir);
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('the cycle finder finds a cycle, type-only imports included', () => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(cycles(g).map((c) => [...c].sort()), [['a', 'b', 'c']]);
  const dir = fs.mkdtempSync(path.join(REPO, 'dist', 'cycle-probe-'));
  try {
    fs.writeFileSync(path.join(dir, 'x.ts'), "import type { Y } from './y.js';\nexport type X = Y;\n");
    fs.writeFileSync(path.join(dir, 'y.ts'), "import type { X } from './x.js';\nexport type Y = X | 1;\n");
    assert.equal(cycles(importGraph(dir)).length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('src/ has no import cycles', () => {
  const found = cycles(importGraph(path.join(REPO, 'src'))).map((c) => c.map((f) => path.relative(REPO, f)).sort().join(' -> '));
  assert.deepEqual(found, []);
});
