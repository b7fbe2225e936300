import { invalid } from '../core/errors.js';
import { resolveHealth } from '../engine/health.js';
import { loadStack, type StackOptions } from '../compose/stack.js';
import { requestFor } from '../compose/apply.js';
import type { ServiceModel, StackModel } from '../compose/model.js';
import { diskImageFacts } from '../image/disk-image.js';
import { normalizeRef } from '../image/ref.js';
import type { ImageStore } from '../image/store.js';
import { workloadFromRun } from '../export/kube/from-run.js';
import { imageFactsByRef } from '../export/kube/image-facts.js';
import type { WorkloadOptions } from '../export/kube/from-instance.js';
import type { KubeWorkload } from '../export/kube/model.js';
import type { Warnings } from '../export/kube/warnings.js';

/**
 * `isola kube generate --compose FILE`: one workload per service of a Compose stack, made by the
 * same conversion as `--image` from the request `isola compose up` would run (so the two never
 * disagree). What Compose does and a cluster has no place for is named in a warning, as for run
 * flags: start order (depends_on), images built here (build:), several networks.
 */
export function workloadsFromStack(
  store: ImageStore, stack: StackOptions, containerDisks: ReadonlyMap<string, string>, opts: WorkloadOptions,
  callerEnv: Readonly<Record<string, string | undefined>>, warnings: Warnings,
): { model: StackModel; workloads: KubeWorkload[] } {
  const model = loadStack(stack);
  if (model.services.length === 0) throw invalid(`${model.file} has no service to describe (with the profiles given)`, 'enable a profile with --profile NAME, or add a service');
  for (const [name, ref] of containerDisks) {
    const s = model.services.find((x) => x.name === name);
    if (!s) throw invalid(`--containerdisk names service "${name}", which ${model.file} does not have`, `use one of: ${model.services.map((x) => x.name).join(', ')}`);
    if (s.kind !== 'vm') throw invalid(`--containerdisk ${name}=${ref}: service ${name} runs as ${s.kind}, not as a VM`, 'give --containerdisk only for services with x-isola-kind: vm');
  }
  const workloads = model.services.map((s) => {
    const subject = `service ${s.name}`;
    const req = requestFor(model, s, 1, '');
    const facts = imageFactsByRef(store, s.image);
    carryWarnings(s, subject, warnings);
    let containerDisk = containerDisks.get(s.name);
    // A whole-disk image (import-vm, kube containerdisk) is itself the containerDisk a VM boots.
    if (s.kind === 'vm' && !containerDisk && facts && storedDisk(store, s.image)) containerDisk = normalizeRef(s.image);
    if (s.kind === 'vm' && !containerDisk) {
      throw invalid(`${subject} runs as a VM, and a KubeVirt VM boots a containerDisk image, which was not given`,
        `make one (isola export ${s.image} --format qcow2 -o ${s.name}.qcow2; isola kube containerdisk ${s.name}.qcow2 -t REGISTRY/${s.name}-disk:1; isola push it), then give --containerdisk ${s.name}=REGISTRY/${s.name}-disk:1`);
    }
    const w = workloadFromRun({
      ...req,
      // The Service of each workload is named after the Compose service: other services find it
      // by that name in the cluster's DNS, as they do on the stack's network.
      name: s.name,
      // The stack's own network is what every pod has: the cluster network. Only more is named.
      network: onlyDefaultNetwork(s) ? 'bridge' : req.network,
      labels: s.labels,
      origin: subject,
      resolvedHealth: resolveHealth(facts?.health, req.health ?? {}) ?? null,
    }, facts, { ...opts, replicas: s.replicas, ...(containerDisk ? { containerDisk } : {}) }, callerEnv, warnings);
    // On the stack's network every port of a service answers to its name; in a cluster only the
    // ports of its Service do, and those come from ports: (or the image's EXPOSE with -P).
    if (!w.ports.some((p) => p.servicePort !== undefined)) {
      const users = model.services.filter((o) => o.dependsOn.some((d) => d.service === s.name)).map((o) => o.name);
      warnings.add(subject, `no Service written: it publishes no port (ports:), so ${users.length ? users.join(', ') : 'other services'} cannot reach it by the name ${s.name} in the cluster; list the port it serves under ports:`);
    }
    return w;
  });
  return { model, workloads };
}

function onlyDefaultNetwork(s: ServiceModel): boolean {
  return s.networks.length === 0 || (s.networks.length === 1 && s.networks[0] === 'default');
}

function storedDisk(store: ImageStore, ref: string): boolean {
  try {
    return diskImageFacts(store.resolve(ref).config) !== null;
  } catch {
    return false;
  }
}

function carryWarnings(s: ServiceModel, subject: string, warnings: Warnings): void {
  for (const d of s.dependsOn) {
    warnings.add(subject, `depends_on ${d.service} (${d.condition}) not carried over: Kubernetes starts every pod at once, so ${s.name} must retry until ${d.service} answers (or add an init container that waits for it)`);
  }
  if (s.build) warnings.add(subject, `build: not carried over: a cluster pulls its images; build it (isola compose build), then isola tag and isola push ${s.image} to a registry the cluster can pull from, and name that image in image:`);
  if (!onlyDefaultNetwork(s)) warnings.add(subject, `networks ${s.networks.join(', ')}: every pod shares the cluster network; the separation between the stack's networks is not carried over (a NetworkPolicy per network would be needed)`);
  if (s.machine) warnings.add(subject, `x-isola-machine ${s.machine}: here its containers share that machine's VM; in a cluster each pod is a Kata VM of its own (runtimeClassName: kata)`);
  if (s.profiles.length) warnings.add(subject, `profiles ${s.profiles.join(', ')}: written because enabled; a cluster has no profiles`);
}

/** `--containerdisk SERVICE=REF` (repeatable) for a stack. */
export function parseServiceDisks(given: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const g of given) {
    const i = g.indexOf('=');
    if (i <= 0 || i === g.length - 1) throw invalid(`--containerdisk "${g}" with --compose must be SERVICE=REF`, 'name the VM service and its containerDisk image: --containerdisk db=registry:5000/db-disk:1');
    out.set(g.slice(0, i), g.slice(i + 1));
  }
  return out;
}
