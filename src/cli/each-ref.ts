import { IsolaError } from '../core/errors.js';
import { ExitWith, exitCodeFor } from './exit-codes.js';

/**
 * A verb over several instances (`rm a b c`, `stop`, `kill`, ...), the way Docker does it: each
 * one is tried, the name of each that succeeds is printed, the error of each that fails is
 * printed as its own line and the rest are still done; the exit status is that of the last
 * failure. Stopping at the first failure left the rest running or stored (an `rm -f` of 50
 * instances kept 40 of them when one of the first had been removed by someone else).
 */
export async function eachRef(refs: readonly string[], fn: (ref: string) => Promise<unknown>): Promise<void> {
  let failed: IsolaError | null = null;
  for (const ref of refs) {
    try {
      await fn(ref);
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      if (!(e instanceof IsolaError)) throw e;
      if (refs.length === 1) throw e;
      process.stderr.write(`isola: ${e.oneLine()}\n`);
      failed = e;
    }
  }
  if (failed) throw new ExitWith(exitCodeFor(failed.code));
}
