import { IsolaError, type ErrorCode } from '../core/errors.js';

/** An error with the HTTP status Docker's daemon answers with; its body is `{"message": ...}`. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);

/** Docker's status codes for isola's error codes (what clients rely on: 404 makes `docker run` pull). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNSAFE: 400,
  COMMAND_NOT_FOUND: 400,
  CANNOT_INVOKE: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  PERMISSION_DENIED: 403,
};

/** The status and `{"message"}` of anything a handler threw. */
export function toResponse(e: unknown): { status: number; message: string } {
  if (e instanceof ApiError) return { status: e.status, message: e.message };
  if (e instanceof IsolaError) {
    // The docker CLI picks `run`'s exit status (127, 126) from these words in a start's error.
    const prefix = e.code === 'COMMAND_NOT_FOUND' ? 'executable file not found: ' : e.code === 'CANNOT_INVOKE' ? 'permission denied: ' : '';
    return { status: STATUS[e.code] ?? 500, message: `${prefix}${e.oneLine()}` };
  }
  const err = e as Error;
  return { status: 500, message: `internal error: ${err?.message ?? String(e)}` };
}
