import { invalid, IsolaError } from '../core/errors.js';
import type { ImageStore } from './store.js';
import { storeLayer } from './layer.js';
import { MT_CONFIG, MT_DOCKER_LAYER, MT_LAYER_GZIP, MT_MANIFEST, type Descriptor, type ImageConfig, type Manifest } from './layout.js';
import { parseDockerfile } from './build/dockerfile.js';
import { dispatch, type StageState } from './build/dispatch.js';
import type { ConfigBody } from './build/steps.js';

/**
 * `isola commit`: an instance's changes (an OCI layer tar) on top of the image it runs, stored as
 * a new image with its own history entry, as `docker commit` makes one. The config is the
 * parent's, overlaid with what the instance ran with (`base`, as Docker merges the container's
 * config), then with each `-c` change, a Dockerfile instruction parsed and applied by the
 * builder's own dispatcher so that it means exactly what it means in a Dockerfile.
 */

/** The instructions `docker commit --change` accepts. */
export const COMMIT_CHANGES = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK'] as const;

export interface CommitRequest {
  /** The parent image's manifest (or index) digest, as the instance records it. */
  parentDigest: string;
  /** The name:tag the new image gets. */
  ref: string;
  /** The layer tar (the instance's changes). */
  tarFile: string;
  /** The instance's own settings, overlaid on the parent's config before the changes. */
  base: Partial<ConfigBody>;
  changes: readonly string[];
  author?: string;
  comment?: string;
  /** The history entry's created_by (Docker writes the container's command). */
  createdBy: string;
  created?: string;
}

/** Applies `-c` changes to a config; a bad one is refused naming it. Pure, no I/O. */
export async function applyChanges(config: ConfigBody, changes: readonly string[]): Promise<ConfigBody> {
  const state: StageState = { config: JSON.parse(JSON.stringify(config)) as ConfigBody, args: new Map(), cmdSet: false };
  for (const change of changes) {
    const doc = parseDockerfile(change, '--change');
    const ins = doc.instructions[0];
    if (!ins || doc.instructions.length !== 1) throw invalid(`--change "${change}" is not one instruction`, `write one of ${COMMIT_CHANGES.join(', ')} with its arguments, for example -c 'ENV KEY=value'`);
    if (!(COMMIT_CHANGES as readonly string[]).includes(ins.keyword)) {
      throw invalid(`--change: ${ins.keyword} cannot be applied by commit (it would need a build step)`, `use one of ${COMMIT_CHANGES.join(', ')}`);
    }
    await dispatch({
      file: '--change', escape: doc.escape, metaArgs: new Map(), buildArgs: new Map(), consumed: new Set(), network: 'none',
      copyFrom: () => Promise.reject(new Error('unreachable: COPY is refused above')),
    }, state, ins);
  }
  return state.config;
}

/** Docker's and OCI's layer media types name the same bytes; the new manifest is all OCI. */
function ociLayer(d: Descriptor): Descriptor {
  const mediaType = d.mediaType === MT_DOCKER_LAYER ? MT_LAYER_GZIP : d.mediaType === 'application/vnd.docker.image.rootfs.diff.tar' ? 'application/vnd.oci.image.layer.v1.tar' : d.mediaType;
  return { mediaType, digest: d.digest, size: d.size };
}

/**
 * Stores the layer, then config and manifest, and names the result last (so a name never points at
 * a partial image), all inside one lease so a concurrent prune cannot collect the new blobs.
 */
export async function commitInstanceImage(store: ImageStore, req: CommitRequest): Promise<{ digest: string; configDigest: string }> {
  let parent: { manifest: Manifest; config: ImageConfig };
  try {
    const { manifest } = store.imageManifest({ mediaType: MT_MANIFEST, digest: req.parentDigest, size: 0 });
    const config = JSON.parse(store.readVerified(manifest.config.digest, 'config').toString('utf8')) as ImageConfig;
    parent = { manifest, config };
  } catch (e) {
    throw new IsolaError('FAILED_PRECONDITION', `the image this instance runs (${req.parentDigest.slice(0, 19)}) is no longer stored`, 'pull, load or build it again, then commit', { cause: e });
  }
  const config = await applyChanges({ ...parent.config.config, ...req.base }, req.changes);
  return store.withLease(async () => {
    // The parent's layers go into the new manifest by digest: a concurrent rmi -f must not collect them meanwhile.
    store.lease(parent.manifest.layers.map((l) => l.digest));
    if (!parent.manifest.layers.every((l) => store.hasBlob(l.digest))) {
      throw new IsolaError('FAILED_PRECONDITION', `the layers of the image this instance runs (${req.parentDigest.slice(0, 19)}) are no longer stored`, 'pull, load or build it again, then commit');
    }
    const layer = await storeLayer(store, req.tarFile);
    const created = req.created ?? new Date().toISOString();
    const image: ImageConfig = {
      created,
      architecture: parent.config.architecture,
      os: parent.config.os,
      ...(parent.config.variant ? { variant: parent.config.variant } : {}),
      ...(req.author !== undefined ? { author: req.author } : parent.config.author !== undefined ? { author: parent.config.author } : {}),
      config,
      rootfs: { type: 'layers', diff_ids: [...parent.config.rootfs.diff_ids, layer.diffId] },
      history: [...(parent.config.history ?? []), { created, created_by: req.createdBy, ...(req.comment ? { comment: req.comment } : {}) }],
    };
    const cfg = store.putJson(image);
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MT_MANIFEST,
      config: { mediaType: MT_CONFIG, digest: cfg.digest, size: cfg.size },
      layers: [...parent.manifest.layers.map(ociLayer), layer.desc],
    };
    const desc = await store.tag(req.ref, manifest);
    return { digest: desc.digest, configDigest: cfg.digest };
  });
}
