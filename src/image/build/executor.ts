import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { IsolaError } from '../../core/errors.js';
import type { ImageStore } from '../store.js';
import type { ImageConfig } from '../layout.js';
import { storeLayer } from '../layer.js';
import { unpackLayers, type UnpackLimits } from '../unpack.js';
import { SourceError, SourceTree } from './context.js';
import { FsTree } from './fs-tree.js';
import { resolveOwner } from './chown.js';
import { buildCopyLayer } from './copy-layer.js';
import { BuildLease, commitStep, lookup, scratchState, stepKey, type ImageState } from './cache.js';
import type { StepRunner } from './runner.js';
import type { BuildPlan, CopyStep, PlannedStage, RunStep, Step } from './steps.js';

/**
 * Executes a plan: stage by stage, step by step, each step looked up in the cache by its key
 * (cache.ts) and otherwise done: a config change commits a new config, COPY/ADD/WORKDIR build
 * a layer from files (copy-layer.ts), RUN runs a container through the StepRunner. Every
 * result is committed as an image, so the next step (and the next build) starts from it.
 */
export interface BuildReporter {
  /** A stage begins (1-based among the stages built). */
  stage(n: number, count: number, stage: PlannedStage): void;
  step(n: number, total: number, text: string): void;
  cached(state: ImageState): void;
  /** A step's result (cached or new). */
  done(state: ImageState): void;
  /** Where RUN output goes. */
  out: Writable;
  err: Writable;
}

export interface ExecuteOptions {
  store: ImageStore;
  plan: BuildPlan;
  context: SourceTree;
  runner: StepRunner;
  noCache: boolean;
  /** SOURCE_DATE_EPOCH, in seconds. */
  epoch?: number;
  /** A folder for this build's scratch files; removed by the caller. */
  scratch: string;
  reporter: BuildReporter;
  unpack?: UnpackLimits;
}

function at(plan: BuildPlan, step: Step): string {
  return `${plan.file}:${step.line}`;
}

export function isoTime(epoch: number | undefined): string {
  const d = epoch === undefined ? new Date() : new Date(epoch * 1000);
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

function sourceError(plan: BuildPlan, step: Step, e: unknown): unknown {
  if (!(e instanceof SourceError)) return e;
  const keyword = step.text.split(' ')[0] ?? 'COPY';
  const hint = e.kind === 'outside' ? 'COPY reads only inside the build context; move the file into it' : e.kind === 'missing' ? 'check the path (relative to the build context) and .dockerignore' : 'check the pattern';
  return new IsolaError(e.kind === 'missing' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', `${at(plan, step)}: ${keyword} ${e.message}`, hint);
}

/** Checks every COPY and ADD source of the context before any step runs, so a bad one stores nothing. */
export function preflight(plan: BuildPlan, context: SourceTree): void {
  for (const stage of plan.stages) {
    for (const step of stage.steps) {
      if (step.kind !== 'copy' || step.from.kind !== 'context') continue;
      try {
        context.match(step.sources);
      } catch (e) {
        throw sourceError(plan, step, e);
      }
    }
  }
}

export async function executePlan(o: ExecuteOptions): Promise<ImageState> {
  const { store, plan, reporter } = o;
  const lease = new BuildLease(store);
  const results = new Map<number, ImageState>();
  const unpacked = new Map<string, SourceTree>();
  let tmpCount = 0;
  const tmp = (name: string): string => path.join(o.scratch, `${tmpCount++}-${name}`);

  /** A stage's or image's files, unpacked once per build, for COPY --from. */
  const sourceFiles = async (state: ImageState): Promise<SourceTree> => {
    let t = unpacked.get(state.digest);
    if (!t) {
      const dir = tmp('from');
      await unpackLayers(state.manifest.layers.map((l) => store.blobPath(l.digest)), dir, { ...o.unpack, expectedDigests: state.manifest.layers.map((l) => l.digest) });
      t = new SourceTree(dir);
      unpacked.set(state.digest, t);
    }
    return t;
  };

  const imageState = (ref: string, digest: string): ImageState => {
    const desc = store.findDescriptor(ref);
    if (!desc || desc.digest !== digest) throw new IsolaError('FAILED_PRECONDITION', `image ${ref} changed while the build was planned`, 'run the build again');
    const { manifest } = store.imageManifest(desc);
    const config = JSON.parse(store.readVerified(manifest.config.digest, 'config').toString('utf8')) as ImageConfig;
    return { ref, digest, manifest, config };
  };

  try {
    preflight(plan, o.context);
    for (const [si, stage] of plan.stages.entries()) {
      reporter.stage(si + 1, plan.stages.length, stage);
      const total = stage.steps.length + 1;
      reporter.step(1, total, stage.text);
      let state: ImageState = stage.base.kind === 'scratch' ? scratchState()
        : stage.base.kind === 'stage' ? (results.get(stage.base.index) as ImageState)
          : imageState(stage.base.ref, stage.base.digest);
      lease.holdImage(state);
      let tree: FsTree | undefined;
      const fsTree = async (): Promise<FsTree> => (tree ??= await FsTree.fromLayers(state.manifest.layers.map((l) => store.blobPath(l.digest))));

      for (const [i, step] of stage.steps.entries()) {
        reporter.step(i + 2, total, step.text);
        const inputs: Record<string, string> = {};
        if (step.kind === 'copy') {
          if (step.from.kind === 'context') inputs.content = await o.context.digest(step.sources).catch((e: unknown) => Promise.reject(sourceError(plan, step, e)));
          else inputs.source = step.from.kind === 'stage' ? (results.get(step.from.index) as ImageState).digest : step.from.digest;
        }
        const key = stepKey(state.digest, step, inputs, o.epoch);
        const hit = o.noCache ? undefined : lookup(store, key);
        if (hit) {
          lease.holdImage(hit);
          if (hit.manifest.layers.length !== state.manifest.layers.length) tree = undefined;
          state = hit;
          reporter.cached(state);
          reporter.done(state);
          continue;
        }
        const layerTar = tmp('layer.tar');
        let layer: Awaited<ReturnType<typeof storeLayer>> | null = null;
        if (step.kind === 'run') {
          await runStep(o, step, state, layerTar, plan, i + 2, total);
          layer = await storeLayer(store, layerTar, { beforeCommit: (d) => lease.add([d]) });
          if (tree) await tree.applyLayer(layerTar);
        } else if (step.kind === 'copy') {
          layer = await copyStep(o, step, await fsTree(), layerTar, tmp('staging'), step.from.kind === 'context' ? o.context : await sourceFiles(step.from.kind === 'stage' ? (results.get(step.from.index) as ImageState) : imageState(step.from.ref, step.from.digest)), plan, lease);
        } else if (step.kind === 'workdir') {
          const t = await fsTree();
          if (t.resolve(step.path).node === undefined) {
            await buildCopyLayer({ tree: o.context, matches: [], dest: '/', mkdir: step.path, fromContext: true, extract: false, image: t, now: new Date(), staging: tmp('staging'), tarFile: layerTar, ...(o.epoch !== undefined ? { epoch: o.epoch } : {}) });
            layer = await storeLayer(store, layerTar, { beforeCommit: (d) => lease.add([d]) });
          }
        }
        fs.rmSync(layerTar, { force: true });
        state = await commitStep(store, lease, key, state, step, layer, isoTime(o.epoch));
        reporter.done(state);
      }
      results.set(stage.index, state);
    }
    const final = results.get(plan.stages[plan.stages.length - 1]?.index ?? -1);
    if (!final || final.ref === null) throw new IsolaError('INVALID_ARGUMENT', `${plan.file}: the image FROM scratch has no instructions, so there is nothing to store`, 'add COPY or ADD to the last stage');
    return final;
  } finally {
    lease.release();
  }
}

async function runStep(o: ExecuteOptions, step: RunStep, state: ImageState, tarFile: string, plan: BuildPlan, n: number, total: number): Promise<void> {
  const where = `${at(plan, step)}: step ${n}/${total} ${step.text}`;
  if (state.ref === null) throw new IsolaError('FAILED_PRECONDITION', `${where}: the stage is FROM scratch with no files yet, so there is no shell or program to run`, 'COPY the program in first, or start FROM an image');
  const r = await o.runner.run({ image: state.ref, argv: step.argv, env: step.env, user: step.user, workdir: step.workdir, network: step.network }, tarFile, o.reporter.out, o.reporter.err);
  if (r.exitCode !== 0) {
    throw new IsolaError('STEP_FAILED', `${where}: failed with exit status ${r.exitCode}${r.reason ? ` (${r.reason})` : ''}`, 'no image was tagged; fix the step (its output is above) and build again');
  }
}

async function copyStep(o: ExecuteOptions, step: CopyStep, image: FsTree, tarFile: string, staging: string, source: SourceTree, plan: BuildPlan, lease: BuildLease) {
  let matches;
  try {
    matches = source.match(step.sources);
  } catch (e) {
    throw sourceError(plan, step, e);
  }
  let owner;
  if (step.chown !== undefined) {
    try {
      owner = resolveOwner(step.chown, image);
    } catch (e) {
      throw new IsolaError('INVALID_ARGUMENT', `${at(plan, step)}: --chown=${step.chown}: ${(e as Error).message}`, 'use numbers (--chown=1000:1000), or add the user to the image first');
    }
  }
  await buildCopyLayer({
    tree: source, matches, dest: step.dest, fromContext: step.from.kind === 'context', extract: step.add, image,
    ...(owner ? { owner } : {}), ...(step.chmod !== undefined ? { chmod: step.chmod } : {}), ...(o.epoch !== undefined ? { epoch: o.epoch } : {}),
    now: new Date(), staging, tarFile,
  });
  return storeLayer(o.store, tarFile, { beforeCommit: (d) => lease.add([d]) });
}
