import { readFile } from 'node:fs/promises';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import { parseBytes } from '../core/units.js';
import type { Compliance, HostType, Inventory, InventorySource, Workload } from './profile.js';
import { INVENTORY_KEYS, WORKLOAD_SCHEMA_ID, workloadFileSchema } from './profile-schema.js';
import { SourcePositions } from './source-position.js';

const SCHEMA_HINT = 'see docs/workload.schema.json';

/** A problem in the input, located by path; parseInventory turns it into a file:line error. */
class FieldProblem extends Error {
  constructor(readonly path: (string | number)[], message: string, readonly hint: string) {
    super(message);
  }
}

let validators: { inventory: ValidateFunction; workload: ValidateFunction } | undefined;

function schemaValidators() {
  if (!validators) {
    const ajv = new Ajv({ allErrors: false, verbose: true, strict: true });
    ajv.addSchema(workloadFileSchema);
    const get = (def: string) => {
      const v = ajv.getSchema(`${WORKLOAD_SCHEMA_ID}#/definitions/${def}`);
      if (!v) throw new IsolaError('INTERNAL', `workload schema has no definition "${def}"`);
      return v;
    };
    validators = { inventory: get('inventory'), workload: get('workload') };
  }
  return validators;
}

export async function loadInventory(file: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(`workload file ${file} does not exist`, 'check the path');
    throw invalid(`cannot read workload file ${file}: ${(e as Error).message}`, 'check the path and its permissions');
  }
  return parseInventory(text, file);
}

/**
 * Parses and validates a workload file. JSON takes a fast path (JSON.parse); YAML goes through
 * the yaml package. Positions are computed only when there is an error to report.
 */
export function parseInventory(text: string, file: string): Inventory {
  const data = parseData(text, file);
  let positions: SourcePositions | undefined;
  const lineOf = (path: (string | number)[], key?: string) => (positions ??= new SourcePositions(text)).lineOf(path, key);
  const isInventory = isRecord(data) && INVENTORY_KEYS.some((k) => k in data);
  const source: InventorySource = {
    file,
    lineOf: (path) => lineOf(path),
    workloadPath: (index) => (isInventory ? ['workloads', index] : []),
  };
  try {
    if (!isRecord(data)) throw new FieldProblem([], 'the top level must be a mapping (one workload, or workloads: [...])', SCHEMA_HINT);
    const validate = isInventory ? schemaValidators().inventory : schemaValidators().workload;
    if (!validate(data)) throw problemFromSchema(validate.errors?.[0], data);
    const workloads = isInventory ? ((data.workloads as unknown[]) ?? []) : [data];
    return {
      workloads: workloads.map((w, i) => toWorkload(w as Record<string, unknown>, i, source.workloadPath(i))),
      hosts: ((data.hosts as Record<string, unknown>[] | undefined) ?? []).map((h, i) => toHost(h, i)),
      assumptions: (data.assumptions as Record<string, number> | undefined) ?? {},
      source,
    };
  } catch (e) {
    if (!(e instanceof FieldProblem)) throw e;
    const last = e.path[e.path.length - 1];
    const isKeyProblem = e.message.startsWith('unknown field');
    const line = isKeyProblem && typeof last === 'string' ? lineOf(e.path.slice(0, -1), last) : lineOf(e.path);
    const where = e.path.length ? `${displayPath(e.path)}: ` : '';
    throw invalid(`${file}${line ? `:${line}` : ''}: ${where}${e.message}`, e.hint);
  }
}

function parseData(text: string, file: string): unknown {
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // Not strict JSON (comments, trailing commas, or YAML flow style): the YAML parser decides.
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0]?.line;
    const firstLine = err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? err.message;
    throw invalid(`${file}${line ? `:${line}` : ''}: malformed YAML: ${firstLine}`, 'fix the syntax (JSON is accepted too)');
  }
  if (doc.contents === null) throw invalid(`${file}: the file is empty`, 'describe at least one workload; see docs/ADVISE.md');
  return doc.toJS();
}

function problemFromSchema(err: ErrorObject | undefined, root: unknown): FieldProblem {
  if (!err) return new FieldProblem([], 'does not match the workload schema', SCHEMA_HINT);
  const path = toPath(err.instancePath, root);
  const data: unknown = err.data;
  const params = err.params as Record<string, unknown>;
  const shown = JSON.stringify(data);
  switch (err.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((err.parentSchema?.properties as object | undefined) ?? {});
      return new FieldProblem([...path, String(params.additionalProperty)], 'unknown field', `allowed fields here: ${allowed.join(', ')}`);
    }
    case 'required':
      return new FieldProblem(path, `missing required field "${String(params.missingProperty)}"`, SCHEMA_HINT);
    case 'type':
      if (err.parentSchema?.pattern && typeof data === 'number') {
        return new FieldProblem(path, `unit-less size ${shown}`, `write it with a unit, for example ${data}Mi or ${data}G`);
      }
      return new FieldProblem(path, `must be ${String(params.type)}, not ${shown}`, SCHEMA_HINT);
    case 'pattern':
      if (typeof data === 'string' && data.trim().startsWith('-')) {
        return new FieldProblem(path, `negative size ${shown}`, 'a size must be greater than zero, for example 512Mi');
      }
      if (typeof data === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(data)) {
        return new FieldProblem(path, `unit-less size ${shown}`, `write it with a unit, for example ${data.trim()}Mi`);
      }
      return new FieldProblem(path, `${shown} is not a size with a unit`, 'write it like 512Mi, 4G or 1.5GiB');
    case 'enum':
      return new FieldProblem(path, `${shown} is not one of ${(params.allowedValues as unknown[]).join(', ')}`, SCHEMA_HINT);
    case 'minItems':
      return new FieldProblem(path, path[0] === 'hosts' ? 'empty list: zero hosts' : 'must not be empty',
        path[0] === 'hosts' ? 'list at least one host type, or give --host 128G/32' : SCHEMA_HINT);
    case 'minimum':
    case 'exclusiveMinimum':
      return new FieldProblem(path, `${shown} must be ${err.keyword === 'minimum' ? 'at least' : 'greater than'} ${String(params.limit)}`,
        path[path.length - 1] === 'count' ? 'zero hosts cannot hold anything; give at least 1' : SCHEMA_HINT);
    case 'uniqueItems':
      return new FieldProblem(path, 'lists the same value twice', 'list each value once');
    default:
      return new FieldProblem(path, err.message ?? 'does not match the workload schema', SCHEMA_HINT);
  }
}

function toWorkload(w: Record<string, unknown>, index: number, at: (string | number)[]): Workload {
  return {
    name: (w.name as string | undefined) ?? `workload ${index + 1}`,
    index,
    os: w.os as Workload['os'],
    trust: w.trust as Workload['trust'],
    tenancy: w.tenancy as Workload['tenancy'],
    compliance: w.compliance as Compliance[] | undefined,
    legacy: w.legacy as boolean | undefined,
    fullOsAccess: w.fullOsAccess as boolean | undefined,
    architecture: w.architecture as Workload['architecture'],
    scaling: w.scaling as Workload['scaling'],
    parity: w.parity as boolean | undefined,
    memoryBytes: w.memory === undefined ? undefined : size(w.memory as string, [...at, 'memory']),
    cpus: w.cpus as number | undefined,
    replicas: w.replicas as number | undefined,
    image: w.image as string | undefined,
    containerDisk: w.containerDisk as string | undefined,
    ports: w.ports as number[] | undefined,
  };
}

function toHost(h: Record<string, unknown>, index: number): HostType {
  return {
    name: (h.name as string | undefined) ?? `host type ${index + 1}`,
    memoryBytes: size(h.memory as string, ['hosts', index, 'memory']),
    cores: h.cores as number,
    cost: h.cost as number | undefined,
    count: h.count as number | undefined,
  };
}

function size(text: string, path: (string | number)[]): number {
  try {
    return parseBytes(text, 'size');
  } catch (e) {
    throw new FieldProblem(path, `size ${JSON.stringify(text)} must be greater than zero`, (e as IsolaError).hint ?? SCHEMA_HINT);
  }
}

/** "/workloads/2/memory" -> ['workloads', 2, 'memory'], numbers where the data is a list. */
function toPath(pointer: string, root: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out.push(Number(seg));
      node = node[Number(seg)];
    } else {
      out.push(seg);
      node = isRecord(node) ? node[seg] : undefined;
    }
  }
  return out;
}

export function displayPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
