import { invalid } from '../../core/errors.js';
import type { Kind } from '../../core/types.js';
import type { Warnings } from './warnings.js';

/** Room left for the "-N" suffix of a VM replica's name within a DNS label's 63 characters. */
const MAX_BASE = 56;

/**
 * A Kubernetes object name from an isola name: an RFC 1035 label (lower case letters, digits and
 * '-', starting with a letter), which Services require and every other kind accepts. isola's
 * default names (brave_fox_1a2b) have underscores: the change is named in a warning.
 */
export function kubeName(name: string, warnings: Warnings): string {
  const out = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^[^a-z]+/, '').slice(0, MAX_BASE).replace(/-+$/, '');
  if (out === '') throw invalid(`"${name}" gives no usable Kubernetes name (it needs a letter)`, 'give a name with --name');
  if (out !== name) warnings.add(`name "${name}"`, `written as "${out}" (Kubernetes names are lower case letters, digits and -, starting with a letter)`);
  return out;
}

/** The labels every object of one workload carries; the selector of its Deployment and Service. */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name };
}

export function labelsFor(name: string, kind: Kind): Record<string, string> {
  return { ...selectorLabels(name), 'app.kubernetes.io/created-by': 'isola', 'isola.dev/kind': kind };
}
