/**
 * Seeded pseudo-random numbers (SplitMix32-style mixing of a Weyl sequence): the same seed
 * gives the same stream on every platform, which makes initial weights repeatable.
 */
export interface Random {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function createRandom(seed: number): Random {
  let state = (seed | 0) ^ 0x9e3779b9;
  const next = (): number => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
  return {
    uniform: next,
    range: (lo, hi) => lo + (hi - lo) * next(),
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}
