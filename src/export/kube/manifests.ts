import { invalid } from '../../core/errors.js';
import { deploymentOf } from './deployment.js';
import { virtualMachinesOf } from './kubevirt.js';
import type { KubeWorkload, Manifest } from './model.js';
import { kubeName } from './names.js';
import { denyAllOf } from './network-policy.js';
import { KATA_RUNTIME_CLASS, kataRuntimeClass, type MeasuredOverhead } from './runtime-class.js';
import { serviceOf } from './service.js';
import type { Warnings } from './warnings.js';

export interface ManifestOptions {
  /** The hybrid memory overhead isola measured (isola compare --json), for the Kata RuntimeClass. */
  measuredOverhead?: MeasuredOverhead;
}

/**
 * Every object the workloads need, in the order `kubectl apply -f` wants them: the RuntimeClass
 * and the claims before the pods that name them. Names that two workloads would share are an
 * error: one would silently replace the other in the cluster.
 */
export function manifestsFor(workloads: KubeWorkload[], warnings: Warnings, opts: ManifestOptions = {}): Manifest[] {
  const byName = new Map<string, string>();
  const first: Manifest[] = [];
  const rest: Manifest[] = [];
  const claims = new Map<string, Manifest>();
  for (const w of workloads) {
    const name = kubeName(w.name, warnings);
    const other = byName.get(name);
    if (other !== undefined) throw invalid(`${other} and ${w.origin} would both be named "${name}" in Kubernetes`, 'give them different names (--name)');
    byName.set(name, w.origin);
    let objects: Manifest[];
    if (w.kind === 'vm') objects = virtualMachinesOf(w, name, warnings);
    else {
      objects = deploymentOf(w, name, warnings, w.kind === 'hybrid' ? KATA_RUNTIME_CLASS : undefined);
      if (w.isolatedNetwork) objects.push(...denyAllOf(w, name, warnings));
    }
    objects.push(...serviceOf(w, name));
    for (const m of objects) {
      if (m.object.kind !== 'PersistentVolumeClaim') rest.push(m);
      else if (!claims.has(m.object.metadata.name)) claims.set(m.object.metadata.name, m);
      else warnings.add(w.origin, `volume ${m.object.metadata.name} is shared with another workload: one ReadWriteOnce claim, mountable by pods on one node at a time`);
    }
  }
  if (workloads.some((w) => w.kind === 'hybrid')) first.push(kataRuntimeClass(opts.measuredOverhead));
  return [...first, ...claims.values(), ...rest];
}
