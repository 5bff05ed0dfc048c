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

/**
 * The last layer's final states as one row per sequence: hN [L·D, B, H] (index l·D + d) →
 * [B, D·H], directions concatenated, forward first (what a model with returnSequences false
 * outputs before its read-out).
 */
export function finalStates<A extends Float32Array | Float64Array>(hN: ArrayLike<number>, L: number, D: number, B: number, H: number, out: A): A {
  for (let d = 0; d < D; d++) {
    const from = ((L - 1) * D + d) * B * H;
    for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) out[(b * D + d) * H + j] = hN[from + b * H + j];
  }
  return out;
}
