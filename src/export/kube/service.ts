import type { IService } from 'kubernetes-models/v1/Service';
import type { KubeWorkload, Manifest } from './model.js';
import { labelsFor, selectorLabels } from './names.js';

/**
 * The Service for a workload's published ports (isola's -p HOST:PORT): its port is the host port,
 * its target the workload's port. The selector is the workload's name label, which the pods of a
 * Deployment and the virt-launcher pods of a KubeVirt VM both carry. None without published ports.
 */
export function serviceOf(w: KubeWorkload, name: string): Manifest[] {
  const published = w.ports.filter((p) => p.servicePort !== undefined);
  if (published.length === 0) return [];
  const service: IService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels: labelsFor(name, w.kind) },
    spec: {
      type: w.serviceType,
      selector: selectorLabels(name),
      ports: published.map((p) => ({ name: `${(p.protocol ?? 'TCP').toLowerCase()}-${p.servicePort}`, protocol: p.protocol ?? 'TCP', port: p.servicePort as number, targetPort: p.containerPort })),
    },
  };
  return [{ object: service as Manifest['object'], comment: [`published ports of ${w.origin}: ${published.map((p) => `${p.servicePort}->${p.containerPort}`).join(', ')}`] }];
}
