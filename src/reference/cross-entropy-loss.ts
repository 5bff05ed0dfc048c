/**
 * float64 reference of shaders/cross-entropy-loss.wgsl: per-row loss shares and dY for
 * loss = scale·Σ_r w_r·(logsumexp(y_r) − y_r[target_r]), scale = 1 / Σ_r w_r.
 */
export function crossEntropyLossReference(s: { rows: number; classes: number; scale: number; y: ArrayLike<number>; target: ArrayLike<number>; mask: ArrayLike<number> }): {
  lossRows: Float64Array;
  dY: Float64Array;
} {
  const lossRows = new Float64Array(s.rows);
  const dY = new Float64Array(s.rows * s.classes);
  for (let r = 0; r < s.rows; r++) {
    const base = r * s.classes;
    let m = -Infinity;
    for (let c = 0; c < s.classes; c++) m = Math.max(m, s.y[base + c]);
    let sum = 0;
    for (let c = 0; c < s.classes; c++) sum += Math.exp(s.y[base + c] - m);
    const t = s.target[r];
    const w = s.scale * s.mask[r];
    for (let c = 0; c < s.classes; c++) dY[base + c] = w * (Math.exp(s.y[base + c] - m) / sum - (c === t ? 1 : 0));
    lossRows[r] = w * (m + Math.log(sum) - s.y[base + t]);
  }
  return { lossRows, dY };
}
