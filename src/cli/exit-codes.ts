import type { ErrorCode } from '../core/errors.js';

/** Thrown by verbs that want a specific exit status without an error message (the workload's). */
export class ExitWith extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

/**
 * Exit statuses, as Docker's CLI uses them (docs/CLI.md repeats this table):
 * 125 when isola itself fails, 126 when the workload's command cannot be invoked,
 * 127 when it does not exist, otherwise the workload's own status.
 */
export const EXIT_ENGINE = 125;
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_NOT_FOUND = 127;
/** A build whose RUN step failed exits 1, as `docker build` and `buildah bud` do. */
export const EXIT_BUILD_STEP = 1;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'CANNOT_INVOKE':
      return EXIT_CANNOT_INVOKE;
    case 'COMMAND_NOT_FOUND':
      return EXIT_NOT_FOUND;
    case 'STEP_FAILED':
      return EXIT_BUILD_STEP;
    default:
      return EXIT_ENGINE;
  }
}
