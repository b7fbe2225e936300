/**
 * mulberry32: a tiny, fast, seedable PRNG. Reproducible sequences let a report's bootstrap be
 * recomputed from its raw samples and a failing generated inventory be generated again; not for
 * secrets.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
