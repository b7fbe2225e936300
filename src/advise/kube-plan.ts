import { invalid } from '../core/errors.js';
import { formatBytes } from '../core/units.js';
import { defaultSecurity, type KubeWorkload, type ServiceType } from '../export/kube/model.js';
import type { Warnings } from '../export/kube/warnings.js';
import { STRATEGIES, workloadKinds, type PlanReport, type PlanRequest, type Strategy } from './plan.js';

/**
 * `isola plan --kube`: a placement as Kubernetes. The node count is the placement's host count
 * (one node per host of that type); each workload of the inventory becomes its manifests, in the
 * kind the placement chose for it.
 */
export interface KubePlan {
  workloads: KubeWorkload[];
  /** Comment lines for the top of the YAML: strategy, host type, nodes, kinds. */
  header: string[];
}

export function parseStrategy(text: string): Strategy {
  if (!(STRATEGIES as readonly string[]).includes(text)) throw invalid(`unknown --strategy "${text}"`, `use ${STRATEGIES.join(', ')}`);
  return text as Strategy;
}

export function kubePlan(req: PlanRequest, report: PlanReport, strategy: Strategy, serviceType: ServiceType, warnings: Warnings): KubePlan {
  const hostType = report.hostTypes[0];
  const placement = report.placements.find((p) => p.strategy === strategy && p.hostType === hostType?.host.name);
  if (!hostType || !placement) throw invalid(`no ${strategy} placement to write`, 'give a host type (--host MEMORY/CORES or hosts:)');
  if (placement.hosts === null) {
    throw invalid(`${strategy} does not fit host type ${hostType.host.name}: ${placement.doesNotFit.join(', ')}`, 'give a bigger --host, or another --strategy');
  }
  const inv = req.inventory;
  const where = (index: number, field?: string) => {
    const path = [...(inv.source?.workloadPath(index) ?? []), ...(field ? [field] : [])];
    const line = inv.source?.lineOf(path) ?? inv.source?.lineOf(inv.source.workloadPath(index));
    return inv.source ? `${inv.source.file}${line ? `:${line}` : ''}: ` : '';
  };
  const workloads = workloadKinds(inv, strategy).map(({ workload: w, kind, recommendation }): KubeWorkload => {
    const subject = `workload ${w.name}`;
    if (kind === 'vm' && !w.containerDisk) {
      throw invalid(`${where(w.index)}workload "${w.name}" is placed as a VM (${strategy}), and a KubeVirt VM boots a containerDisk image, which it does not name`,
        'give it containerDisk: REF (built with isola kube containerdisk)');
    }
    if (kind !== 'vm' && !w.image) {
      throw invalid(`${where(w.index)}workload "${w.name}" is placed as a ${kind} (${strategy}) and names no image`, 'give it image: HOST/NAME:TAG, as the cluster pulls it');
    }
    if (w.memoryBytes === undefined || w.cpus === undefined) {
      warnings.add(subject, 'has no memory or cpus: written without resources, and not counted in the node count');
    }
    const security = defaultSecurity();
    if (recommendation === 'hardened-container' && kind === 'container') {
      // The advice is a hardened container: no capabilities at all, on top of isola's defaults.
      security.capDrop = ['ALL'];
      warnings.add(subject, 'advised as a hardened container: every capability is dropped (add back with capabilities.add what it needs)');
    }
    return {
      name: w.name,
      kind,
      image: w.image ?? '',
      ...(w.containerDisk ? { containerDisk: w.containerDisk } : {}),
      replicas: w.replicas ?? 1,
      ...(w.memoryBytes !== undefined ? { memoryBytes: w.memoryBytes } : {}),
      ...(w.cpus !== undefined ? { cpus: w.cpus } : {}),
      env: [],
      ports: (w.ports ?? []).map((p) => ({ containerPort: p, servicePort: p })),
      serviceType,
      volumes: [],
      security,
      isolatedNetwork: false,
      origin: subject,
    };
  });
  const counts = (['container', 'hybrid', 'vm'] as const).filter((k) => placement.instances[k] > 0).map((k) => `${placement.instances[k]} ${k}`);
  const needs = [
    placement.instances.vm > 0 ? 'KubeVirt (for the VirtualMachines)' : '',
    placement.instances.hybrid > 0 ? 'Kata Containers (for runtimeClassName: kata)' : '',
  ].filter(Boolean);
  const header = [
    `isola plan --kube: ${strategy} placement on host type ${hostType.host.name} (${formatBytes(hostType.host.memoryBytes)}, ${hostType.host.cores} cores)`,
    `nodes: ${placement.hosts} (lower bound ${placement.lowerBound ?? '?'}, ${placement.method ?? 'bin packing'}), one per host; instances: ${counts.join(', ') || 'none'}`,
    ...(needs.length ? [`the nodes need ${needs.join(' and ')}`] : []),
    'apply with: kubectl apply -f FILE',
  ];
  return { workloads, header };
}
