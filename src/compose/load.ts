import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import { interpolate, InterpolationError, parseEnvText } from './interpolate.js';

/** The names `docker compose` looks for, in its order, when no -f is given. */
export const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/**
 * The Compose Specification's JSON schema, kept in the repository beside this file (a copy of
 * upstream's, see docs/COMPOSE.md; a unit test checks it is the same as the one tests use).
 */
const SCHEMA_FILE = new URL('../../../src/compose/compose-spec.json', import.meta.url);

let validator: ValidateFunction | undefined;
/** Where each subschema sits in the schema (`#/definitions/service/properties/ports`), so an error names its rule exactly. */
const pointers = new WeakMap<object, string>();

function indexPointers(node: unknown, at: string): void {
  if (node === null || typeof node !== 'object') return;
  if (!pointers.has(node)) pointers.set(node, at);
  for (const [k, v] of Object.entries(node)) indexPointers(v, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
}

function schemaValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
    // Its "$schema" (https://json-schema.org/draft-07/schema) is draft-07, ajv's default, under another URI.
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true, verbose: true, validateFormats: false });
    validator = ajv.compile(schema);
    indexPointers(schema, '#');
  }
  return validator;
}

/** A file read, interpolated and validated: the raw document, and where each value came from. */
export interface LoadedFile {
  file: string;
  /** The folder relative paths are resolved against (the file's). */
  dir: string;
  data: Record<string, unknown>;
  /** `file:line:column` of the value (or, with `key`, of the key) at a path; the file alone when not found. */
  where(at: (string | number)[], key?: boolean): string;
  /** The variables interpolation used: the environment over the folder's `.env`. */
  vars: ReadonlyMap<string, string>;
}

/** The compose file: -f as given, else the first of DEFAULT_FILES in the working folder. */
export function findComposeFile(given: string | undefined, cwd: string): string {
  if (given !== undefined) {
    const file = path.resolve(cwd, given);
    if (!fs.existsSync(file)) throw notFound(`compose file ${given} does not exist`, 'check the path given to -f');
    return file;
  }
  for (const name of DEFAULT_FILES) {
    const file = path.join(cwd, name);
    if (fs.existsSync(file)) return file;
  }
  throw notFound(`no compose file in ${cwd} (looked for ${DEFAULT_FILES.join(', ')})`, 'run it in the stack\'s folder, or name the file with -f');
}

/** The variables of a folder: its `.env` (if any) under the environment, which wins, as in Compose. */
export function variablesFor(dir: string, env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const vars = new Map<string, string>();
  const dotenv = path.join(dir, '.env');
  if (fs.existsSync(dotenv)) {
    try {
      for (const [k, v] of parseEnvText(fs.readFileSync(dotenv, 'utf8'))) vars.set(k, v);
    } catch (e) {
      if (e instanceof InterpolationError) throw invalid(`${dotenv}: ${e.message}`, 'write KEY=VALUE lines (# starts a comment)');
      throw e;
    }
  }
  for (const [k, v] of Object.entries(env)) if (v !== undefined) vars.set(k, v);
  return vars;
}

/**
 * Reads a compose file: YAML with positions, every string value interpolated in place (Compose
 * interpolates before it validates), then the Compose Specification's schema. Every problem is
 * one line with `file:line:column`, the path in the file, and the rule broken.
 */
export function loadComposeFile(file: string, env: Readonly<Record<string, string | undefined>>): LoadedFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw invalid(`cannot read compose file ${file}: ${(e as Error).message}`, 'check the path and its permissions');
  }
  const dir = path.dirname(file);
  const vars = variablesFor(dir, env);
  return parseComposeText(text, file, vars);
}

/** parseComposeText without the file system: the text, its name for messages, the variables. */
export function parseComposeText(text: string, file: string, vars: ReadonlyMap<string, string>): LoadedFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const pos = (offset: number) => {
    const p = lines.linePos(offset);
    return `${file}:${p.line}:${p.col}`;
  };
  const rel = path.relative(process.cwd(), file);
  const shown = rel && !rel.startsWith('..') ? rel : file;
  const posShown = (offset: number) => pos(offset).replace(file, shown);
  const first = doc.errors[0];
  if (first) throw invalid(`${posShown(first.pos[0])}: not valid YAML: ${first.message.split('\n')[0]}`, 'fix the YAML syntax at that place');
  interpolateDocument(doc, vars, posShown);
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw invalid(`${shown}: the top level must be a mapping (services: ...)`, 'see docs/COMPOSE.md for a small example');
  }
  const where = (at: (string | number)[], key = false) => {
    const node = nodeAt(doc, at, key);
    return node?.range ? posShown(node.range[0]) : shown;
  };
  const check = schemaValidator();
  if (!check(data)) throw schemaError(mostSpecific(check.errors ?? []), where);
  return { file, dir: path.dirname(file), data: data as Record<string, unknown>, where, vars };
}

function interpolateDocument(doc: Document, vars: ReadonlyMap<string, string>, pos: (offset: number) => string): void {
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string') return;
      try {
        node.value = interpolate(node.value, vars);
      } catch (e) {
        if (!(e instanceof InterpolationError)) throw e;
        throw invalid(`${node.range ? pos(node.range[0]) : ''}: ${e.message}`, 'set the variable in the environment or in the folder\'s .env file, or give a default with ${VAR:-default}');
      }
    },
  });
}

/** The node at a path of the document; with `key`, the key node of the last segment. */
function nodeAt(doc: Document, at: (string | number)[], key: boolean): Node | undefined {
  let node: unknown = doc.contents;
  for (let i = 0; i < at.length; i++) {
    const seg = at[i];
    if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return node as Node;
      if (key && i === at.length - 1) return pair.key as Node;
      node = pair.value;
    } else {
      return node as Node | undefined;
    }
  }
  return node as Node | undefined;
}

/** JSON pointer "/services/web/ports/0" to path segments, numbers for array indexes. */
function pointerPath(pointer: string, data: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const s: string | number = /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(s);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[String(s)] : undefined;
  }
  return out;
}

export function displayPath(at: (string | number)[]): string {
  return at.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('') || '(top level)';
}

/**
 * The error to report among all the schema gave: the deepest in the file (a oneOf reports each
 * branch's failure; the branch that got furthest is what the author meant), then the one that
 * names what is wrong rather than the branch's type.
 */
function mostSpecific(errors: readonly ErrorObject[]): ErrorObject | undefined {
  const depth = (e: ErrorObject) => e.instancePath.split('/').length + (e.keyword === 'additionalProperties' || e.keyword === 'required' ? 1 : 0);
  const weight = (e: ErrorObject) => (e.keyword === 'oneOf' || e.keyword === 'anyOf' ? 0 : e.keyword === 'type' ? 1 : 2);
  return [...errors].sort((a, b) => depth(b) - depth(a) || weight(b) - weight(a))[0];
}

function schemaError(err: ErrorObject | undefined, where: (at: (string | number)[], key?: boolean) => string): IsolaError {
  if (!err) return invalid('the compose file does not match the Compose Specification', 'see docs/COMPOSE.md');
  const at = pointerPath(err.instancePath, err.data === undefined ? undefined : undefined);
  const params = err.params as Record<string, unknown>;
  let message = err.message ?? 'is not valid';
  let loc = where(at);
  let shownPath = at;
  if (err.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    shownPath = [...at, params.additionalProperty];
    loc = where(shownPath, true);
    message = 'is not allowed here (unknown key)';
  } else if (err.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    message = `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (err.keyword === 'required' && typeof params.missingProperty === 'string') {
    message = `needs the key "${params.missingProperty}"`;
  }
  const parent = err.parentSchema ? pointers.get(err.parentSchema) : undefined;
  const rule = parent ? `${parent}/${err.keyword}` : err.schemaPath;
  return invalid(`${loc}: ${displayPath(shownPath)} ${message} (Compose Specification rule ${rule})`,
    'fix the file at that place (docs/COMPOSE.md lists what isola compose reads)');
}
