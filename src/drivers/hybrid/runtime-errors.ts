import { Writable } from 'node:stream';
import { IsolaError } from '../../core/errors.js';
import { filterRuncErrors, runtimeError } from '../container/monitor.js';

/**
 * crun's words when `crun exec` cannot start the command (it then exits 255): a command not
 * found, or a file that cannot be executed. runc's own lines are told apart by filterRuncErrors.
 */
const CRUN_EXEC_ERROR = /^(?:crun: )?(?:executable file `[^`\n]*` not found in \$PATH|open executable|exec(?:ve)? `[^`\n]*`)[^\n]*$/m;
/** crun's exit status when it failed itself, as opposed to the command's own. */
const CRUN_FAILED = 255;

/**
 * Passes an exec's stderr through, except the guest runtime's own error lines (runc's or crun's):
 * a command it could not start becomes an IsolaError (127/126), anything else is passed on.
 * crun's lines count as its own only when it exited 255, so a workload that prints the same
 * words keeps them.
 */
export function filterGuestRuntimeErrors(stderr: Writable, where: string): { sink: Writable; error: (code: number) => IsolaError | null } {
  const runc = filterRuncErrors(stderr, where);
  let held = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      if (CRUN_EXEC_ERROR.test(s)) held += s;
      else runc.sink.write(chunk);
      cb();
    },
  });
  return {
    sink,
    error: (code) => {
      const e = runc.error();
      if (e) return e;
      if (!held) return null;
      const r = code === CRUN_FAILED ? runtimeError(held) : null;
      if (r && (r.code === 'COMMAND_NOT_FOUND' || r.code === 'CANNOT_INVOKE')) return new IsolaError(r.code, `${r.message} (${where})`, r.hint);
      stderr.write(held);
      return null;
    },
  };
}
