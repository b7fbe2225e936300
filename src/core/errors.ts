/**
 * The small, fixed set of error codes isola uses. Every failure a user can see is an IsolaError
 * with one of these codes, a one-line message naming the problem, and a hint naming the fix.
 * The CLI translates codes to exit statuses once, in cli/exit-codes.ts.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT' // the user's input is malformed (a flag, a size, a file)
  | 'NOT_FOUND' // an image, an instance or a file the user named does not exist
  | 'ALREADY_EXISTS' // a name is taken
  | 'FAILED_PRECONDITION' // the thing exists but is in the wrong state (running, not running)
  | 'UNAVAILABLE' // a host capability or program is missing (runtime, QEMU, KVM, root)
  | 'PERMISSION_DENIED' // not root, or a path cannot be written
  | 'CORRUPT' // stored data failed verification (digest mismatch, bad layout)
  | 'UNSAFE' // input tried to escape its sandbox (tar entry outside the target)
  | 'TIMEOUT' // something did not become ready in time
  | 'RESOURCE_EXHAUSTED' // a limit was reached: disk space, entries, memory
  | 'CANNOT_INVOKE' // the workload's command exists but cannot be executed (exit 126)
  | 'COMMAND_NOT_FOUND' // the workload's command does not exist (exit 127)
  | 'STEP_FAILED' // a build step's command exited non-zero (exit 1, as docker build and buildah bud)
  | 'INTERNAL'; // a bug or an unexpected failure of a program isola runs

export class IsolaError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it; printed after the message on the same line. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IsolaError';
    this.code = code;
    this.hint = hint;
  }

  /** One line: "problem: fix". */
  oneLine(): string {
    return this.hint ? `${this.message}; ${this.hint}` : this.message;
  }
}

export function isIsolaError(e: unknown, code?: ErrorCode): e is IsolaError {
  return e instanceof IsolaError && (code === undefined || e.code === code);
}

export const invalid = (msg: string, hint?: string) => new IsolaError('INVALID_ARGUMENT', msg, hint);
export const notFound = (msg: string, hint?: string) => new IsolaError('NOT_FOUND', msg, hint);
