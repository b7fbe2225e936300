import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { KubeWorkload, Manifest } from './model.js';
import { labelsFor, selectorLabels } from './names.js';
import { podSpecOf } from './pod-spec.js';
import type { Warnings } from './warnings.js';

/**
 * A container or hybrid workload as a Deployment. Hybrid (a container inside a VM, as Kata runs
 * it) is the same pod with `runtimeClassName` naming the Kata RuntimeClass (runtime-class.ts).
 */
export function deploymentOf(w: KubeWorkload, name: string, warnings: Warnings, runtimeClassName?: string): Manifest[] {
  const { spec, claims } = podSpecOf(w, name, warnings);
  const runtimeClass = runtimeClassName ?? w.runtimeClass;
  if (runtimeClass) spec.runtimeClassName = runtimeClass;
  const labels = labelsFor(name, w.kind);
  const deployment: IDeployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: selectorLabels(name) },
      template: { metadata: { labels, ...(w.annotations ? { annotations: w.annotations } : {}) }, spec },
    },
  };
  const comment = [`${w.origin}, as a ${w.kind === 'hybrid' ? 'Kata pod (a container inside a VM)' : 'container'}`];
  return [...claims, { object: deployment as Manifest['object'], comment }];
}
