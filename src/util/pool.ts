/**
 * Runs `fn` over `items` with at most `limit` running at once, results in input order. On the
 * first failure nothing new starts, the running ones are told through the signal, and the
 * first error is thrown once they have settled (so no work outlives the call).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  const abort = new AbortController();
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i, abort.signal);
      } catch (e) {
        if (!failure) {
          failure = { error: e };
          abort.abort(e);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
