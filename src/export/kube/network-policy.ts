import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { KubeWorkload, Manifest } from './model.js';
import { selectorLabels } from './names.js';
import type { Warnings } from './warnings.js';

/**
 * isola's --network none for a pod: a pod always gets the cluster network, so the nearest
 * equivalent is a NetworkPolicy that allows no traffic in or out. It holds only where the
 * cluster's network plugin enforces policies: said in a warning.
 */
export function denyAllOf(w: KubeWorkload, name: string, warnings: Warnings): Manifest[] {
  warnings.add(w.origin, '--network none: a pod always has a network; a NetworkPolicy denying all traffic is written instead, which holds only where the network plugin enforces NetworkPolicies');
  const policy: INetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${name}-no-network` },
    spec: { podSelector: { matchLabels: selectorLabels(name) }, policyTypes: ['Ingress', 'Egress'] },
  };
  return [{ object: policy as Manifest['object'], comment: [`--network none of ${w.origin}: no ingress and no egress rule, so nothing is allowed`] }];
}
