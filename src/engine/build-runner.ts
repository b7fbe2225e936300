import type { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { isIsolaError } from '../core/errors.js';
import type { RunStepRequest, RunStepResult, StepRunner } from '../image/build/runner.js';
import type { Engine } from './engine.js';
import { defaultRunRequest } from './request.js';

/**
 * The builder's RUN, through the Engine like any `isola run`: a container (always the container
 * kind: only its changes can be read back, see Engine.exportChanges) of the parent image, with
 * the step's environment, user and folder, no network unless the build asked for the bridge,
 * and no entrypoint (a RUN command is the whole argv, as in Docker). Its output streams to the
 * build's; on exit 0 its changes become the layer tar; the container is removed whatever happens.
 */
export function engineStepRunner(engine: Engine): StepRunner {
  return {
    async run(req: RunStepRequest, tarFile: string, out: Writable, err: Writable): Promise<RunStepResult> {
      const name = `isola-build-${randomBytes(6).toString('hex')}`;
      const request = {
        ...defaultRunRequest(req.image, req.argv),
        name, entrypoint: '', env: req.env, workdir: req.workdir, network: req.network,
        ...(req.user ? { user: req.user } : {}),
      };
      try {
        // Engine.run writes the workload's lines to these streams and never ends them.
        const { exitCode } = await engine.run(request, out, err);
        if (exitCode !== 0) return { exitCode: exitCode ?? 1 };
        await engine.exportChanges(name, tarFile);
        return { exitCode: 0 };
      } catch (x) {
        if (isIsolaError(x, 'COMMAND_NOT_FOUND')) return { exitCode: 127, reason: x.message };
        if (isIsolaError(x, 'CANNOT_INVOKE')) return { exitCode: 126, reason: x.message };
        throw x;
      } finally {
        if (engine.instances.find(name)) await engine.remove(name, true).catch(() => undefined);
      }
    },
  };
}
