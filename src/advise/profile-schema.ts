import { ARCHITECTURE_VALUES, COMPLIANCE_VALUES, OS_VALUES, SCALING_VALUES, TENANCY_VALUES, TRUST_VALUES } from './profile.js';
import { ASSUMPTIONS } from './assumptions.js';

/**
 * The JSON Schema of a workload file (YAML or JSON). docs/workload.schema.json is this object,
 * written out; a test keeps the two identical so the documented format is the enforced one.
 */

/** A size always carries its unit: "512" alone is ambiguous (bytes? MiB?) and is rejected. */
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*([bB]|[kKmMgGtT][iI]?[bB]?)$';

const size = (description: string) => ({ type: 'string', pattern: SIZE_PATTERN, description });

const workload = {
  type: 'object',
  description: 'One workload. Every field is optional; a missing answer that matters is named in the advice.',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, description: 'How the advice names it; defaults to its position ("workload 3").' },
    os: { enum: [...OS_VALUES], description: 'Guest OS: other = an OS the host kernel cannot run.' },
    trust: { enum: [...TRUST_VALUES], description: "trusted = your organisation's code; untrusted = customers' or third parties'." },
    tenancy: { enum: [...TENANCY_VALUES], description: 'multi = different customers share hosts.' },
    compliance: {
      type: 'array', items: { enum: [...COMPLIANCE_VALUES] }, uniqueItems: true,
      description: 'Compliance regimes that apply; [] for none.',
    },
    legacy: { type: 'boolean', description: 'Legacy or unpatched software, or needs a specific old OS version.' },
    fullOsAccess: { type: 'boolean', description: 'Needs kernel modules, its own kernel, or full OS control.' },
    architecture: { enum: [...ARCHITECTURE_VALUES] },
    scaling: { enum: [...SCALING_VALUES], description: 'fast = must scale out in seconds.' },
    parity: { type: 'boolean', description: 'Development/production parity matters.' },
    memory: size('Memory of one instance of the workload itself, with a unit: 512Mi, 4G.'),
    cpus: { type: 'number', exclusiveMinimum: 0, description: 'CPUs of one instance (0.5 = half a core).' },
    replicas: { type: 'integer', minimum: 1, description: 'Instances to place; 1 when absent.' },
    // ---- isola plan --kube: what the manifests run ----
    image: { type: 'string', minLength: 1, description: 'isola plan --kube: the OCI image a container or hybrid pod runs, as the cluster pulls it (HOST/NAME:TAG).' },
    containerDisk: {
      type: 'string', minLength: 1,
      description: 'isola plan --kube: the KubeVirt containerDisk image a vm boots (isola kube containerdisk); needed when the plan makes it a VM.',
    },
    ports: {
      type: 'array', items: { type: 'integer', minimum: 1, maximum: 65535 }, uniqueItems: true,
      description: 'isola plan --kube: TCP ports the workload listens on; a Service publishes them.',
    },
  },
};

const host = {
  type: 'object',
  description: 'A host type isola plan may place workloads on.',
  additionalProperties: false,
  required: ['memory', 'cores'],
  properties: {
    name: { type: 'string', minLength: 1 },
    memory: size('Physical memory of the host, with a unit: 128G.'),
    cores: { type: 'integer', minimum: 1, description: 'Physical cores (or hardware threads, if that is how you count).' },
    cost: { type: 'number', minimum: 0, description: 'Purchase price of one host; overrides the host.price assumption.' },
    count: { type: 'integer', minimum: 1, description: 'Hosts available; plan reports a shortfall when more are needed.' },
  },
};

const assumptions = {
  type: 'object',
  description: 'Overrides of the plan assumptions, by key (isola plan prints each with its source).',
  additionalProperties: false,
  properties: Object.fromEntries(
    ASSUMPTIONS.map((a) => [a.key, { type: 'number', minimum: a.min, description: `${a.label} (${a.unit}); default ${a.value}` }]),
  ),
};

const inventory = {
  type: 'object',
  additionalProperties: false,
  properties: {
    workloads: { type: 'array', items: { $ref: '#/definitions/workload' } },
    hosts: { type: 'array', minItems: 1, items: { $ref: '#/definitions/host' } },
    assumptions: { $ref: '#/definitions/assumptions' },
  },
};

export const WORKLOAD_SCHEMA_ID = 'https://isola.dev/schemas/workload.schema.json';

export const workloadFileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: WORKLOAD_SCHEMA_ID,
  title: 'isola workload profiles',
  description:
    'Input of isola advise and isola plan: either one workload, or an inventory with workloads, hosts and assumptions. See docs/ADVISE.md.',
  anyOf: [{ $ref: '#/definitions/inventory' }, { $ref: '#/definitions/workload' }],
  definitions: { workload, host, assumptions, inventory },
};

/** Top-level keys that make a file an inventory rather than a single workload. */
export const INVENTORY_KEYS = Object.keys(inventory.properties);
export const WORKLOAD_KEYS = Object.keys(workload.properties);
