import { readFile } from 'node:fs/promises';
import { IsolaError, invalid, notFound } from '../../core/errors.js';
import type { KubeObject } from './model.js';

/**
 * Offline validation of generated manifests. Core kinds are checked against Kubernetes' own
 * OpenAPI schemas as the `kubernetes-models` package compiles them (types, required fields,
 * enums; unknown fields are not refused there, which the TypeScript types of the writers catch
 * at build time). KubeVirt's VirtualMachine is checked against its CRD's JSON schema, which
 * isola does not ship: the caller gives it (--kubevirt-schema FILE).
 */
type Validator = (obj: KubeObject) => void;

interface ModelClass {
  new (data: unknown): { validate(): void };
}

const CORE: Record<string, () => Promise<ModelClass>> = {
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment as unknown as ModelClass,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service as unknown as ModelClass,
  'v1/PersistentVolumeClaim': async () => (await import('kubernetes-models/v1/PersistentVolumeClaim')).PersistentVolumeClaim as unknown as ModelClass,
  'v1/Pod': async () => (await import('kubernetes-models/v1/Pod')).Pod as unknown as ModelClass,
  'node.k8s.io/v1/RuntimeClass': async () => (await import('kubernetes-models/node.k8s.io/v1/RuntimeClass')).RuntimeClass as unknown as ModelClass,
  'networking.k8s.io/v1/NetworkPolicy': async () => (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy as unknown as ModelClass,
};

/** Reads a JSON schema file (KubeVirt's VirtualMachine CRD schema, as JSON). */
export async function loadSchema(file: string): Promise<object> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`schema file ${file} does not exist`, 'give the JSON schema of KubeVirt\'s VirtualMachine (from its CRD)');
    throw invalid(`cannot read schema file ${file}: ${(e as Error).message}`, 'check its permissions');
  }
  try {
    const schema = JSON.parse(text) as unknown;
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error('not a JSON object');
    return schema;
  } catch (e) {
    throw invalid(`schema file ${file} is not a JSON schema: ${(e as Error).message}`, 'give the JSON schema of KubeVirt\'s VirtualMachine (from its CRD)');
  }
}

async function kubevirtValidator(schema: object): Promise<Validator> {
  const { Ajv } = await import('ajv');
  // The CRD schema uses x-kubernetes-* keywords and int32/int64 formats: not strict, no formats.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const check = ajv.compile(schema);
  return (obj) => {
    if (!check(obj)) {
      const errs = (check.errors ?? []).slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`);
      throw new Error(errs.join('; '));
    }
  };
}

/**
 * One line per object that fails its schema ("Deployment web: spec/replicas must be integer");
 * empty when every object is valid. A kind with no schema at hand is a problem too: nothing is
 * reported valid without having been checked.
 */
export async function validateManifests(objects: KubeObject[], kubevirtSchema?: object): Promise<string[]> {
  const problems: string[] = [];
  let vm: Validator | undefined;
  for (const obj of objects) {
    const where = `${obj.kind} ${obj.metadata?.name ?? '(no name)'}`;
    const key = `${obj.apiVersion}/${obj.kind}`;
    try {
      if (key === 'kubevirt.io/v1/VirtualMachine') {
        if (!kubevirtSchema) {
          problems.push(`${where}: not validated, no KubeVirt schema given (--kubevirt-schema FILE)`);
          continue;
        }
        vm ??= await kubevirtValidator(kubevirtSchema);
        vm(obj);
      } else {
        const load = CORE[key];
        if (!load) {
          problems.push(`${where}: no schema for ${key}`);
          continue;
        }
        const Model = await load();
        new Model(obj).validate();
      }
    } catch (e) {
      if (e instanceof IsolaError) throw e;
      problems.push(`${where}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return problems;
}
