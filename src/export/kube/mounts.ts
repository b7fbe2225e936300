import type { KubeVolume } from './model.js';

/**
 * One mount as isola run's -v, --mount and --tmpfs parse it (engine/mount-flags.ts), or as an
 * instance keeps it (core/types.ts MountSpec): a volume without a name is anonymous.
 */
export interface MountLike {
  type: 'bind' | 'volume' | 'tmpfs';
  source?: string;
  target: string;
  readOnly: boolean;
  volume?: string;
  anonymous?: boolean;
  sizeBytes?: number;
}

/** Mounts as Kubernetes volumes: named volumes, host folders, anonymous volumes, tmpfs. */
export function kubeVolumes(mounts: readonly MountLike[]): KubeVolume[] {
  return mounts.map((m): KubeVolume => {
    const base = { target: m.target, readOnly: m.readOnly };
    if (m.type === 'tmpfs') return { ...base, source: { type: 'tmpfs', ...(m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}) } };
    if (m.type === 'bind') return { ...base, source: { type: 'host', path: m.source ?? '' } };
    // A request names its volume in source; an instance's record in volume (source is the folder).
    const name = m.volume ?? (m.source !== undefined && !m.source.startsWith('/') ? m.source : undefined);
    return m.anonymous || name === undefined ? { ...base, source: { type: 'anonymous', fromImage: false } } : { ...base, source: { type: 'named', name } };
  });
}
