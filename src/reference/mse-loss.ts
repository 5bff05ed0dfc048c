/**
 * float64 reference of shaders/mse-loss.wgsl: per-row loss shares and dY for
 * loss = scale·Σ_r w_r·Σ_o (y − target)², scale = 1 / (O·Σ_r w_r).
 */
export function mseLossReference(s: { rows: number; outputs: number; scale: number; y: ArrayLike<number>; target: ArrayLike<number>; mask: ArrayLike<number> }): {
  lossRows: Float64Array;
  dY: Float64Array;
} {
  const lossRows = new Float64Array(s.rows);
  const dY = new Float64Array(s.rows * s.outputs);
  for (let r = 0; r < s.rows; r++) {
    let acc = 0;
    for (let o = 0; o < s.outputs; o++) {
      const i = r * s.outputs + o;
      const diff = s.y[i] - s.target[i];
      acc += diff * diff;
      dY[i] = 2 * s.scale * s.mask[r] * diff;
    }
    lossRows[r] = s.scale * s.mask[r] * acc;
  }
  return { lossRows, dY };
}
