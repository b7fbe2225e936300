import type { ImageConfig } from '../layout.js';

/** The `config` object of an image config: what each instruction changes. */
export type ConfigBody = NonNullable<ImageConfig['config']>;

/** Where a COPY or ADD takes its files from. */
export type CopySource =
  | { kind: 'context' }
  | { kind: 'stage'; index: number }
  | { kind: 'image'; ref: string; digest: string };

interface StepBase {
  /** 1-based line in the Dockerfile (a trigger's line is the FROM's). */
  line: number;
  /** The instruction as written, for the STEP line. */
  text: string;
  /** The history entry's created_by, values expanded, as BuildKit writes it. */
  createdBy: string;
  /** The image config after this step. */
  config: ConfigBody;
  /** The image's author after this step (MAINTAINER). */
  author?: string;
}

/** A step that only changes the image config (ENV, LABEL, CMD, ...): no layer. */
export interface MetaStep extends StepBase {
  kind: 'meta';
}

/** RUN: a command in a container of the image so far; its changes become a layer. */
export interface RunStep extends StepBase {
  kind: 'run';
  argv: string[];
  /** The image's environment plus the build arguments in scope (which are not kept in the image). */
  env: string[];
  user: string;
  workdir: string;
  network: 'none' | 'bridge';
}

/** COPY and ADD: files from the context, a stage or an image, as one layer. */
export interface CopyStep extends StepBase {
  kind: 'copy';
  add: boolean;
  /** Source paths or patterns, relative to the source's root, variables expanded. */
  sources: string[];
  /** Absolute destination; a trailing slash means "into this folder". */
  dest: string;
  from: CopySource;
  /** --chown USER[:GROUP] (names are looked up in the image's /etc/passwd and /etc/group). */
  chown?: string;
  /** --chmod as a number (octal in the Dockerfile). */
  chmod?: number;
}

/** WORKDIR: sets the config's WorkingDir and makes the folder when the image lacks it. */
export interface WorkdirStep extends StepBase {
  kind: 'workdir';
  path: string;
}

export type Step = MetaStep | RunStep | CopyStep | WorkdirStep;

/** What a stage starts from. */
export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'image'; ref: string; digest: string }
  | { kind: 'stage'; index: number };

export interface PlannedStage {
  /** Position among the stages of the Dockerfile (what COPY --from=N counts). */
  index: number;
  /** The name given with AS, lower-cased as Docker does; null when unnamed. */
  name: string | null;
  line: number;
  /** The FROM line as written (STEP 1 of the stage). */
  text: string;
  base: StageBase;
  steps: Step[];
}

export interface BuildPlan {
  file: string;
  /** The stages to build, in the order they are built (dependencies first, the target last). */
  stages: PlannedStage[];
  /** --build-arg names no ARG declared (Docker warns about them). */
  unusedBuildArgs: string[];
}
