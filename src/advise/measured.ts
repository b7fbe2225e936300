import { readFile } from 'node:fs/promises';
import { invalid, notFound } from '../core/errors.js';
import {
  COMPARE_FORMAT, COMPARE_VERSION, READABLE_COMPARE_VERSIONS, type CompareResult, type MeasuredKind, type MetricId, type MetricResult,
} from '../core/compare-result.js';

/**
 * Reads the JSON that `isola compare --json` writes (src/core/compare-result.ts). Only the
 * fields advise and plan use are checked, each with a one-line error that names it. Versions 1
 * and 2 are both read: they differ only in names inside density's `extra`, which is not read here.
 */
export interface Measured {
  file: string;
  result: CompareResult;
  /** "KVM" or "emulation (TCG)": VM figures under emulation are not what KVM would give. */
  accelerator: string;
}

export async function loadMeasured(file: string): Promise<Measured> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`--measured file ${file} does not exist`, 'run isola compare --json FILE first');
    throw invalid(`cannot read --measured file ${file}: ${(e as Error).message}`, 'check its permissions');
  }
  return parseMeasured(text, file);
}

export function parseMeasured(text: string, file: string): Measured {
  const fail = (field: string, problem: string) =>
    invalid(`--measured ${file}: ${field} ${problem}`, `give a file written by isola compare --json (format "${COMPARE_FORMAT}", version ${COMPARE_VERSION})`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw fail('file', `is not JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw fail('file', 'is not a JSON object');
  const r = data as Record<string, unknown>;
  if (r.format !== COMPARE_FORMAT) throw fail('format', `is ${JSON.stringify(r.format)}, expected "${COMPARE_FORMAT}"`);
  if (!READABLE_COMPARE_VERSIONS.includes(r.version as number)) throw fail('version', `is ${JSON.stringify(r.version)}, this isola reads version ${READABLE_COMPARE_VERSIONS.join(' or ')}`);
  const ctx = r.context as Record<string, unknown> | undefined;
  if (typeof ctx !== 'object' || ctx === null) throw fail('context', 'is missing');
  if (typeof ctx.emulated !== 'boolean') throw fail('context.emulated', 'must be true or false');
  if (!['kvm', 'tcg', 'none'].includes(ctx.accelerator as string)) throw fail('context.accelerator', 'must be kvm, tcg or none');
  if (!Array.isArray(r.metrics)) throw fail('metrics', 'must be a list');
  r.metrics.forEach((m: unknown, i: number) => {
    const metric = m as Record<string, unknown>;
    if (typeof metric?.id !== 'string') throw fail(`metrics[${i}].id`, 'must be a string');
    if (typeof metric.kinds !== 'object' || metric.kinds === null) throw fail(`metrics[${i}].kinds`, 'must be an object');
    for (const [kind, s] of Object.entries(metric.kinds as Record<string, unknown>)) {
      if (typeof (s as Record<string, unknown>)?.median !== 'number') throw fail(`metrics[${i}].kinds.${kind}.median`, 'must be a number');
    }
  });
  const result = data as CompareResult;
  return { file, result, accelerator: result.context.emulated ? 'emulation (TCG)' : result.context.accelerator === 'kvm' ? 'KVM' : 'no accelerator' };
}

export function metric(m: Measured, id: MetricId): MetricResult | undefined {
  return m.result.metrics.find((x) => x.id === id);
}

export function median(m: Measured, id: MetricId, kind: MeasuredKind): number | undefined {
  return metric(m, id)?.kinds[kind]?.median;
}

/** One measured figure for one kind, ready to print. */
export interface MeasuredFigure {
  metric: MetricId;
  label: string;
  kind: MeasuredKind;
  median?: number;
  unit: string;
  /** Why it is missing, when it is. */
  notMeasured?: string;
}

const SHOWN: { id: MetricId; label: string }[] = [
  { id: 'startup_ready_ms', label: 'startup (ready)' },
  { id: 'startup_first_output_ms', label: 'startup (first output)' },
  { id: 'memory_overhead_bytes', label: 'memory overhead per instance' },
  { id: 'cpu_overhead_ratio', label: 'CPU time vs native' },
  { id: 'io_seq_ratio', label: 'sequential I/O vs native' },
  { id: 'io_rand_ratio', label: 'random I/O vs native' },
];

/** The measured cost of running as `kind` on the host that produced the file. */
export function costOf(m: Measured, kind: MeasuredKind): MeasuredFigure[] {
  return SHOWN.map(({ id, label }) => {
    const found = metric(m, id);
    const median = found?.kinds[kind]?.median;
    return {
      metric: id,
      label,
      kind,
      median,
      unit: found?.unit ?? '',
      notMeasured: median === undefined ? (found?.notMeasured?.[kind] ?? 'not in the file') : undefined,
    };
  });
}
