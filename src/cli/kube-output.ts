import fs from 'node:fs';
import path from 'node:path';
import { IsolaError, invalid } from '../core/errors.js';
import { loadMeasured, median } from '../advise/measured.js';
import type { MeasuredOverhead } from '../export/kube/runtime-class.js';
import { SERVICE_TYPES, type KubeObject, type Manifest, type ServiceType } from '../export/kube/model.js';
import { loadSchema, validateManifests } from '../export/kube/validate.js';
import type { Warnings } from '../export/kube/warnings.js';

/** What `kube generate` and `plan --kube` share: the measured Kata overhead, validation, output. */

/** The hybrid memory overhead from an `isola compare --json` result; named when the file has none. */
export async function measuredOverhead(file: string | undefined, warnings: Warnings): Promise<MeasuredOverhead | undefined> {
  if (!file) return undefined;
  const m = await loadMeasured(file);
  const bytes = median(m, 'memory_overhead_bytes', 'hybrid');
  if (bytes === undefined || bytes <= 0) {
    warnings.add(`--measured ${file}`, 'has no hybrid memory overhead (compare was run without --kinds hybrid?): the Kata RuntimeClass keeps Kata\'s published default');
    return undefined;
  }
  return { memoryBytes: bytes, file: path.basename(file), accelerator: m.accelerator };
}

/**
 * --validate: every object against its schema before anything is written. A VM manifest needs
 * KubeVirt's schema, which isola does not ship: asked for by name rather than skipped.
 */
export async function validateOrFail(manifests: Manifest[], validate: boolean, kubevirtSchemaFile: string | undefined): Promise<void> {
  if (!validate) {
    if (kubevirtSchemaFile) throw invalid('--kubevirt-schema is read by --validate, which was not given', 'add --validate');
    return;
  }
  const objects: KubeObject[] = manifests.map((m) => m.object);
  const hasVm = objects.some((o) => o.kind === 'VirtualMachine');
  if (hasVm && !kubevirtSchemaFile) {
    throw invalid('--validate checks VirtualMachine manifests against KubeVirt\'s schema, which was not given', 'give --kubevirt-schema FILE (the VirtualMachine CRD\'s JSON schema), or drop --validate');
  }
  const schema = hasVm && kubevirtSchemaFile ? await loadSchema(kubevirtSchemaFile) : undefined;
  const problems = await validateManifests(objects, schema);
  if (problems.length) {
    throw new IsolaError('INTERNAL', `a generated manifest fails its schema: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, 'please report it with the command line');
  }
}

export function printWarnings(warnings: Warnings): void {
  for (const w of warnings.list) process.stderr.write(`isola: warning: ${w}\n`);
}

/** To stdout, or to FILE written beside itself and renamed when whole (a failure leaves none). */
export function writeOutput(text: string, file: string | undefined): void {
  if (!file || file === '-') {
    process.stdout.write(text);
    return;
  }
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw invalid(`cannot write ${file}: ${(e as Error).message}`, 'check the folder exists and is writable');
  }
}

export function parseReplicas(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 10000) throw invalid(`invalid --replicas "${text}"`, 'use a whole number from 1 to 10000');
  return n;
}

export function parseServiceType(text: string): ServiceType {
  if (!(SERVICE_TYPES as readonly string[]).includes(text)) throw invalid(`unknown --service-type "${text}"`, `use ${SERVICE_TYPES.join(', ')}`);
  return text as ServiceType;
}
