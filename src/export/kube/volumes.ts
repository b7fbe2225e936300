import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import type { KubeVolume, KubeWorkload, Manifest } from './model.js';
import { kubeName } from './names.js';
import type { Warnings } from './warnings.js';

/** The size a claim asks for: isola's volumes have none, Kubernetes needs one. */
export const DEFAULT_CLAIM_SIZE = '1Gi';

export interface PodVolumes {
  volumes: IVolume[];
  mounts: IVolumeMount[];
  /** Claims to write beside the Deployment, one per named volume. */
  claims: Manifest[];
}

/**
 * Named volumes become PersistentVolumeClaims (ReadWriteOnce, 1Gi: said in a comment), host
 * bind mounts hostPath volumes (with a warning: the path is on whichever node the pod lands
 * on), the image's VOLUMEs and anonymous volumes emptyDirs (with a warning: their data lives as
 * long as the pod), a tmpfs an emptyDir in memory.
 */
export function podVolumes(w: KubeWorkload, name: string, warnings: Warnings): PodVolumes {
  const out: PodVolumes = { volumes: [], mounts: [], claims: [] };
  const subject = `${w.origin}`;
  w.volumes.forEach((v: KubeVolume, i) => {
    const volName = `v${i}`;
    out.mounts.push({ name: volName, mountPath: v.target, ...(v.readOnly ? { readOnly: true } : {}) });
    switch (v.source.type) {
      case 'named': {
        const claim = kubeName(v.source.name, warnings);
        out.volumes.push({ name: volName, persistentVolumeClaim: { claimName: claim, ...(v.readOnly ? { readOnly: true } : {}) } });
        const pvc: IPersistentVolumeClaim = {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: claim, labels: { 'app.kubernetes.io/created-by': 'isola' } },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: DEFAULT_CLAIM_SIZE } } },
        };
        out.claims.push({
          object: pvc as Manifest['object'],
          comment: [`volume ${v.source.name} (mounted at ${v.target} by ${name}); isola volumes have no size: ${DEFAULT_CLAIM_SIZE} asked, change it to what the data needs`],
        });
        if (w.replicas > 1) {
          warnings.add(subject, `${w.replicas} replicas share volume ${v.source.name}, a ReadWriteOnce claim: pods on different nodes cannot mount it together (use ReadWriteMany storage, or one replica)`);
        }
        break;
      }
      case 'host':
        out.volumes.push({ name: volName, hostPath: { path: v.source.path } });
        warnings.add(subject, `bind mount ${v.source.path}:${v.target} becomes a hostPath volume: the path is read on whichever node runs the pod, and many clusters forbid hostPath (use a named volume for a PersistentVolumeClaim)`);
        break;
      case 'anonymous':
        out.volumes.push({ name: volName, emptyDir: {} });
        warnings.add(subject, `${v.source.fromImage ? 'the image\'s VOLUME' : 'anonymous volume'} ${v.target} becomes an emptyDir: its data lives as long as the pod (mount a named volume there for a PersistentVolumeClaim)`);
        break;
      case 'tmpfs':
        // A tmpfs is memory that lives as long as the instance: an emptyDir in memory is the same.
        out.volumes.push({ name: volName, emptyDir: { medium: 'Memory', ...(v.source.sizeBytes !== undefined ? { sizeLimit: `${Math.ceil(v.source.sizeBytes / 1024 ** 2)}Mi` } : {}) } });
        break;
    }
  });
  return out;
}
