import type { ImageStore } from '../../image/store.js';
import type { Descriptor, HealthConfig } from '../../image/layout.js';

/** What the manifests take from an image's config beyond what an instance spec records. */
export interface ImageFacts {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  user: string;
  workingDir: string;
  health?: HealthConfig;
  /** VOLUME paths. */
  volumes: string[];
  /** EXPOSEd TCP ports. */
  exposedTcp: number[];
  /** EXPOSEd UDP ports. */
  exposedUdp?: number[];
  /** EXPOSEd ports of other protocols (sctp): isola publishes TCP and UDP only, so they are named, not declared. */
  exposedOther: string[];
}

function factsOf(store: ImageStore, desc: Descriptor): ImageFacts {
  const { manifest } = store.imageManifest(desc);
  const config = JSON.parse(store.readVerified(manifest.config.digest, 'config').toString('utf8')) as { config?: Record<string, unknown> };
  const c = (config.config ?? {}) as {
    Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[]; User?: string; WorkingDir?: string;
    Healthcheck?: HealthConfig; Volumes?: Record<string, object>; ExposedPorts?: Record<string, object>;
  };
  return {
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    env: c.Env ?? [],
    user: c.User ?? '',
    workingDir: c.WorkingDir || '/',
    ...(c.Healthcheck && c.Healthcheck.Test?.[0] !== 'NONE' ? { health: c.Healthcheck } : {}),
    volumes: Object.keys(c.Volumes ?? {}).sort(),
    exposedTcp: Object.keys(c.ExposedPorts ?? {})
      .map((k) => /^(\d+)(?:\/tcp)?$/i.exec(k)?.[1])
      .filter((p): p is string => p !== undefined)
      .map(Number)
      .sort((a, b) => a - b),
    exposedUdp: Object.keys(c.ExposedPorts ?? {})
      .map((k) => /^(\d+)\/udp$/i.exec(k)?.[1])
      .filter((p): p is string => p !== undefined)
      .map(Number)
      .sort((a, b) => a - b),
    exposedOther: Object.keys(c.ExposedPorts ?? {}).filter((k) => !/^\d+(\/(tcp|udp))?$/i.test(k)).sort(),
  };
}

/** The facts of a stored image by name; undefined when no image of that name is stored here. */
export function imageFactsByRef(store: ImageStore, ref: string): ImageFacts | undefined {
  const desc = store.findDescriptor(ref);
  return desc ? factsOf(store, desc) : undefined;
}

/** The facts of the image an instance was created from, by digest (its name may point elsewhere now). */
export function imageFactsByDigest(store: ImageStore, digest: string): ImageFacts | undefined {
  const desc = store.readIndex().manifests.find((m) => m.digest === digest);
  return desc ? factsOf(store, desc) : undefined;
}
