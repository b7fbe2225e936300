import { invalid } from '../../core/errors.js';
import type { KubeWorkload, Manifest } from './model.js';
import { labelsFor } from './names.js';
import { probeAction, probesOf, httpCheckOf } from './probe.js';
import { cpuQuantity, memoryQuantity } from './quantity.js';
import type { Warnings } from './warnings.js';

/** isola's guest RAM when -m is not given (drivers/vm/launch.ts DEFAULT_MEMORY_MIB; a test keeps them equal). */
export const VM_DEFAULT_MEMORY_MIB = 256;

/** The fields of KubeVirt's VirtualMachine (kubevirt.io/v1) written here; the JSON schema checks the rest. */
interface VirtualMachine {
  apiVersion: 'kubevirt.io/v1';
  kind: 'VirtualMachine';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    runStrategy: 'Always';
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        domain: {
          cpu: { cores: number };
          memory: { guest: string };
          resources: { requests: Record<string, string> };
          devices: {
            disks: { name: string; disk: { bus: 'virtio' } }[];
            interfaces?: { name: string; masquerade: Record<string, never> }[];
            autoattachPodInterface?: boolean;
          };
        };
        networks?: { name: string; pod: Record<string, never> }[];
        volumes: { name: string; containerDisk: { image: string } }[];
        readinessProbe?: unknown;
        livenessProbe?: unknown;
      };
    };
  };
}

/**
 * A vm workload as KubeVirt VirtualMachines, one per replica (a VirtualMachine has no replica
 * count), booting the containerDisk image. isola's disks run their workload at boot, so there is
 * no cloud-init: command, environment and user are inside the disk, not in the manifest.
 */
export function virtualMachinesOf(w: KubeWorkload, name: string, warnings: Warnings): Manifest[] {
  if (!w.containerDisk) {
    throw invalid(`${w.origin} runs as a VM, and a KubeVirt VM boots a containerDisk image, which was not given`,
      'build one with isola kube containerdisk DISK -t REF (from isola export IMAGE --format qcow2) and give --containerdisk REF');
  }
  notInDisk(w, warnings);
  const memory = memoryQuantity(w.memoryBytes ?? VM_DEFAULT_MEMORY_MIB * 1024 * 1024);
  const requests: Record<string, string> = { memory };
  if (w.cpus !== undefined) requests.cpu = cpuQuantity(w.cpus);
  const cores = Math.max(1, Math.ceil(w.cpus ?? 1));
  const labels = labelsFor(name, 'vm');
  const devices: VirtualMachine['spec']['template']['spec']['domain']['devices'] = {
    disks: [{ name: 'containerdisk', disk: { bus: 'virtio' } }],
  };
  const templateSpec: VirtualMachine['spec']['template']['spec'] = {
    domain: { cpu: { cores }, memory: { guest: memory }, resources: { requests }, devices },
    volumes: [{ name: 'containerdisk', containerDisk: { image: w.containerDisk } }],
  };
  if (w.isolatedNetwork) {
    // --network none maps exactly: a VM without any interface.
    devices.autoattachPodInterface = false;
  } else {
    devices.interfaces = [{ name: 'default', masquerade: {} }];
    templateSpec.networks = [{ name: 'default', pod: {} }];
  }
  if (w.health) {
    // An exec probe runs through the QEMU guest agent, which isola's guest does not have; an
    // HTTP check goes to the VM's address and needs nothing inside.
    const http = httpCheckOf(w.health.Test);
    const action = http ? probeAction(w.health.Test) : undefined;
    if (action) Object.assign(templateSpec, probesOf(w.health, action));
    else if (w.health.Test[0] !== 'NONE') {
      warnings.add(w.origin, `health check ${JSON.stringify(w.health.Test)} not carried over: KubeVirt runs exec probes through the QEMU guest agent, which isola's guest lacks (an HTTP check of localhost would be)`);
    }
  }
  const comment = [
    `${w.origin}, as a KubeVirt VM booting containerDisk ${w.containerDisk}`,
    `guest memory ${memory}${w.memoryBytes === undefined ? ` (isola's VM default, ${VM_DEFAULT_MEMORY_MIB}Mi)` : ''}, ${cores} core${cores > 1 ? 's' : ''}; no cloud-init: the disk runs its workload at boot`,
  ];
  const names = w.replicas === 1 ? [name] : Array.from({ length: w.replicas }, (_, i) => `${name}-${i}`);
  return names.map((n, i) => {
    const vm: VirtualMachine = {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: n, labels },
      spec: { runStrategy: 'Always', template: { metadata: { labels }, spec: templateSpec } },
    };
    const c = w.replicas > 1 ? [...comment, `replica ${i + 1} of ${w.replicas} (a VirtualMachine has no replica count)`] : comment;
    return { object: vm as unknown as Manifest['object'], comment: c };
  });
}

/**
 * What a VM manifest cannot say: the disk was exported from the image, so the workload's own
 * overrides (command, environment, user, mounts, hardening) are not in it. Each is named.
 */
function notInDisk(w: KubeWorkload, warnings: Warnings): void {
  const lost: string[] = [];
  if (w.command || w.args) lost.push(`command ${JSON.stringify([...(w.command ?? []), ...(w.args ?? [])])}`);
  if (w.env.length) lost.push(`environment ${w.env.map((e) => e.name).join(', ')}`);
  if (w.workdir) lost.push(`working directory ${w.workdir}`);
  if (w.hostname) lost.push(`hostname ${w.hostname}`);
  if (w.security.runAsUser !== undefined) lost.push(`user ${w.security.runAsUser}`);
  if (w.security.readOnlyRoot) lost.push('--read-only');
  if (w.security.capAdd.length || w.security.capDrop.length || w.security.seccomp !== 'default' || !w.security.noNewPrivileges) lost.push('hardening switches (--cap-add, --cap-drop, --security-opt)');
  if (w.hostAliases || w.dns) lost.push('--add-host and --dns (the guest keeps its own /etc/hosts and resolver)');
  if (w.terminal) lost.push('-i/-t (a KubeVirt VM\'s console is virtctl console)');
  if (w.volumes.length) lost.push(`mounts ${w.volumes.map((v) => v.target).join(', ')}`);
  if (lost.length) {
    warnings.add(w.origin, `not carried over to the VM: ${lost.join('; ')} (the containerDisk runs what the image it was exported from says; bake them into the image before isola export)`);
  }
}
