import type { Writable } from 'node:stream';

/**
 * How a RUN step reaches a container. The builder sits below the Engine (image/ never imports
 * engine/ or drivers/), so the edge that has an Engine hands one in: `src/engine/build-runner.ts`
 * creates a container from the parent image, runs the command to completion, exports its changes
 * as a layer tar, and removes it.
 */
export interface RunStepRequest {
  /** A stored image name: the parent of the step. */
  image: string;
  argv: string[];
  /** KEY=VALUE: the image's environment and the build arguments in scope. */
  env: string[];
  user: string;
  workdir: string;
  network: 'none' | 'bridge';
}

export interface RunStepResult {
  exitCode: number;
  /** Why the command could not start (not found, not executable), when it could not. */
  reason?: string;
}

export interface StepRunner {
  /** Runs the step; on exit 0, writes the container's changes to `tarFile`. Leaves no container behind. */
  run(req: RunStepRequest, tarFile: string, out: Writable, err: Writable): Promise<RunStepResult>;
}
