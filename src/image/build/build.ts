import fs from 'node:fs';
import { IsolaError, invalid, notFound } from '../../core/errors.js';
import type { ImageStore } from '../store.js';
import type { ImageConfig } from '../layout.js';
import type { UnpackLimits } from '../unpack.js';
import { BASE_REF, ensureBaseImage } from '../base.js';
import { normalizeRef, parseReference } from '../ref.js';
import { SourceTree } from './context.js';
import { dockerfileError } from './dockerfile.js';
import { planBuild, type BaseImage } from './plan.js';
import { executePlan, type BuildReporter } from './executor.js';
import type { StepRunner } from './runner.js';

/** `isola build`, as the CLI (or any edge) asks for it. */
export interface BuildRequest {
  /** The context folder (a tar context is unpacked into one first). */
  contextDir: string;
  /** The Dockerfile's path, and how messages name it. */
  dockerfile: string;
  dockerfileName: string;
  tags: string[];
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  noCache: boolean;
  network: 'none' | 'bridge';
  epoch?: number;
  /** This build's scratch folder (the caller removes it). */
  scratch: string;
  unpack?: UnpackLimits;
  /** Pulls an image that names a registry and is not stored yet (FROM, COPY --from). */
  pull?(ref: string): Promise<void>;
}

export interface BuildResult {
  /** Manifest digest of the image built. */
  digest: string;
  /** The names given to it, normalized. */
  tags: string[];
  unusedBuildArgs: string[];
}

/** Plans the Dockerfile, runs the plan, then (only then) points every tag at the result. */
export async function buildImage(store: ImageStore, req: BuildRequest, runner: StepRunner, reporter: BuildReporter): Promise<BuildResult> {
  const tags = req.tags.map((t) => {
    const n = normalizeRef(t);
    if (n.includes('@')) throw invalid(`cannot name a built image by digest (${t})`, 'give -t NAME[:TAG]');
    return n;
  });
  let content: string;
  try {
    content = fs.readFileSync(req.dockerfile, 'utf8');
  } catch {
    throw notFound(`${req.dockerfileName}: no such Dockerfile`, 'give the file with -f, or put a Dockerfile (or Containerfile) in the context folder');
  }
  const resolveImage = async (text: string, line: number): Promise<BaseImage> => {
    let name: string;
    try {
      name = normalizeRef(text);
    } catch (e) {
      throw dockerfileError(req.dockerfileName, line, `"${text}" is not an image reference`, (e as IsolaError).hint);
    }
    if (name === BASE_REF) await ensureBaseImage(store);
    if (!store.findDescriptor(name) && parseReference(text).host && req.pull) await req.pull(text);
    if (!store.findDescriptor(name)) {
      throw notFound(`${req.dockerfileName}:${line}: image "${name}" is not stored here`, parseReference(text).host ? 'check the name, or pull it with isola pull' : 'build or load it first, or name a registry (HOST/NAME) so the build can pull it');
    }
    const { desc, config } = store.manifestOf(name);
    return { ref: name, digest: desc.digest, config: config as ImageConfig };
  };
  const plan = await planBuild(content, {
    file: req.dockerfileName, buildArgs: req.buildArgs, network: req.network, resolveImage,
    ...(req.target !== undefined ? { target: req.target } : {}),
  });
  const final = await executePlan({
    store, plan, context: SourceTree.forContext(req.contextDir, req.dockerfile), runner, noCache: req.noCache, scratch: req.scratch, reporter,
    ...(req.epoch !== undefined ? { epoch: req.epoch } : {}), ...(req.unpack ? { unpack: req.unpack } : {}),
  });
  const desc = store.findDescriptor(final.ref as string);
  if (!desc) throw new IsolaError('INTERNAL', `the built image ${final.digest.slice(0, 19)} vanished before it was tagged`, 'build again');
  for (const t of tags) await store.tagDescriptor(t, desc);
  return { digest: final.digest, tags, unusedBuildArgs: plan.unusedBuildArgs };
}
