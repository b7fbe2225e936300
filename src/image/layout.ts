/** OCI media types and document shapes isola reads and writes (OCI image spec v1.1). */
export const MT_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MT_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MT_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MT_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MT_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const MT_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** Docker's image manifest schema 2 and its manifest list: the same shapes as OCI's. */
export const MT_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MT_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MT_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MT_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MANIFEST_TYPES: readonly string[] = [MT_MANIFEST, MT_DOCKER_MANIFEST];
export const INDEX_TYPES: readonly string[] = [MT_INDEX, MT_DOCKER_LIST];
export const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  variant?: string;
  author?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    Volumes?: Record<string, object>;
    StopSignal?: string;
    /** Docker's extension: the shell of shell-form instructions (SHELL). */
    Shell?: string[];
    /** Docker's extension: HEALTHCHECK, durations in nanoseconds as Docker writes them. */
    Healthcheck?: HealthConfig;
    /** Docker's extension: ONBUILD triggers, run by a build that starts FROM this image. */
    OnBuild?: string[] | null;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

/** Docker's `Healthcheck` image config object (moby api/types/container.HealthConfig). */
export interface HealthConfig {
  /** ["NONE"], ["CMD", argv...] or ["CMD-SHELL", command]. */
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}
