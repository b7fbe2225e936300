import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO } from './fixture.js';
import { validateManifests } from '../../src/export/kube/validate.js';
import type { KubeObject } from '../../src/export/kube/model.js';

/**
 * KubeVirt's VirtualMachine schema, from shared/schemas beside the checkout (present in CI). A
 * test that needs it fails with this message when it is missing, rather than skipping.
 */
export const KUBEVIRT_SCHEMA_FILE = path.join(REPO, '..', 'shared', 'schemas', 'kubevirt-virtualmachine-v1.json');

let cached: object | undefined;
export function kubevirtSchema(): object {
  if (!fs.existsSync(KUBEVIRT_SCHEMA_FILE)) {
    throw new Error(`${KUBEVIRT_SCHEMA_FILE} is missing: the KubeVirt VirtualMachine schema lies in shared/schemas beside the checkout`);
  }
  cached ??= JSON.parse(fs.readFileSync(KUBEVIRT_SCHEMA_FILE, 'utf8')) as object;
  return cached;
}

/** The objects of a multi-document YAML stream; a YAML error fails the test. */
export function yamlObjects(text: string): KubeObject[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`YAML error: ${d.errors[0]?.message}`);
    return d.toJS() as KubeObject;
  });
}

/** Every object against its schema: core kinds with kubernetes-models, VirtualMachine with KubeVirt's. */
export async function schemaProblems(objects: KubeObject[]): Promise<string[]> {
  return validateManifests(objects, kubevirtSchema());
}
