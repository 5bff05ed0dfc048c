/**
 * float64 reference of the wasm backend's SIMD peak loop: for each of 48 seeds x (12
 * accumulators × 4 lanes), n rounds of x ← m·c + x; returns, per lane, the sum over the 12
 * accumulators (what the loop stores).
 */
export function simdPeakReference(seeds: ArrayLike<number>, m: number, c: number, n: number): Float64Array {
  const out = new Float64Array(4);
  for (let a = 0; a < 12; a++) {
    for (let lane = 0; lane < 4; lane++) {
      let x = seeds[a * 4 + lane];
      for (let i = 0; i < n; i++) x = m * c + x;
      out[lane] += x;
    }
  }
  return out;
}
