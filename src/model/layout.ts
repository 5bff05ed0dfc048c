/** Reorder [B, T, F] to [T, B, F] (or [T, B, F] to [B, T, F] with `inverse`) into `out`. */
export function swapBatchTime<A extends Float32Array | Float64Array>(
  x: ArrayLike<number>,
  B: number,
  T: number,
  F: number,
  inverse: boolean,
  out: A,
): A {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const bt = (b * T + t) * F;
      const tb = (t * B + b) * F;
      for (let f = 0; f < F; f++) {
        if (inverse) out[bt + f] = x[tb + f];
        else out[tb + f] = x[bt + f];
      }
    }
  }
  return out;
}
