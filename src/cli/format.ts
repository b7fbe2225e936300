import { invalid } from '../core/errors.js';

/**
 * A small subset of Go's text/template, as Docker's `--format` uses it: `{{.Field}}`,
 * `{{.A.B}}`, `{{json .}}`, `{{json .Field}}`, `{{.Label "key"}}` (a method with one string
 * argument), `\t` and `\n`, and a leading `table` for a table with a header row. Anything else
 * in `{{ }}` is a one-line error naming what is supported.
 */
export type Placeholder = { kind: 'field'; path: string[] } | { kind: 'json'; path: string[] } | { kind: 'call'; name: string; arg: string };
type Part = string | Placeholder;

export interface Template {
  table: boolean;
  parts: Part[];
}

/** A value a placeholder can reach: plain data, or a method of one string argument. */
export type Row = Record<string, unknown>;

export function parseTemplate(text: string): Template {
  let t = text.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const table = /^table(\s|$)/.test(t);
  if (table) t = t.replace(/^table\s*/, '');
  const parts: Part[] = [];
  const re = /\{\{\s*(.*?)\s*\}\}/g;
  let last = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    if (m.index > last) parts.push(t.slice(last, m.index));
    parts.push(parseAction(m[1] ?? ''));
    last = re.lastIndex;
  }
  if (last < t.length) parts.push(t.slice(last));
  return { table, parts };
}

const PATH = /^\.((?:[A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?$/;

function parseAction(a: string): Placeholder {
  const json = /^json\s+(\S+)$/.exec(a);
  if (json) {
    const p = PATH.exec(json[1] ?? '');
    if (p) return { kind: 'json', path: p[1] ? p[1].split('.') : [] };
  }
  const call = /^\.([A-Za-z_][A-Za-z0-9_]*)\s+"([^"]*)"$/.exec(a);
  if (call) return { kind: 'call', name: call[1] ?? '', arg: call[2] ?? '' };
  const p = PATH.exec(a);
  if (p && p[1]) return { kind: 'field', path: p[1].split('.') };
  throw invalid(`unsupported --format placeholder "{{${a}}}"`, 'use {{.Field}}, {{.Label "key"}}, {{json .}} or {{json .Field}} (see docs/CLI.md)');
}

function lookup(row: Row, path: string[], known: readonly string[] | null): unknown {
  if (known && path[0] !== undefined && !known.includes(path[0])) {
    throw invalid(`unknown --format field ".${path[0]}"`, `use one of ${known.map((k) => `.${k}`).join(' ')}`);
  }
  let v: unknown = row;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** One row through the template; `known` lists the top-level fields (so a typo is an error, not a blank). */
export function renderRow(t: Template, row: Row, known: readonly string[] | null = null): string {
  return t.parts.map((p) => {
    if (typeof p === 'string') return p;
    if (p.kind === 'json') return JSON.stringify(p.path.length ? lookup(row, p.path, known) : row) ?? 'null';
    if (p.kind === 'call') {
      const fn = lookup(row, [p.name], known);
      if (typeof fn !== 'function') throw invalid(`.${p.name} takes no argument in --format`, `write {{.${p.name}}}`);
      return text((fn as (a: string) => unknown)(p.arg));
    }
    const v = lookup(row, p.path, known);
    return typeof v === 'function' ? text((v as () => unknown)()) : text(v);
  }).join('');
}

/** Refuses, up front, a placeholder that names no known field (even when there are no rows to render). */
export function checkFields(t: Template, known: readonly string[]): void {
  for (const p of t.parts) {
    if (typeof p === 'string') continue;
    const name = p.kind === 'call' ? p.name : p.path[0];
    if (name !== undefined && !known.includes(name)) throw invalid(`unknown --format field ".${name}"`, `use one of ${known.map((k) => `.${k}`).join(' ')}`);
  }
}

/** The header row of a `table` template: each placeholder's header, or its name in capitals. */
export function headerRow(t: Template, headers: Record<string, string>): string {
  return t.parts.map((p) => {
    if (typeof p === 'string') return p;
    const name = p.kind === 'call' ? p.name : p.path.join('.');
    return headers[name] ?? (p.kind === 'json' && p.path.length === 0 ? '' : name.toUpperCase());
  }).join('');
}
