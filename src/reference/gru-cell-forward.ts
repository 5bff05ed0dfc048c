/**
 * float64 reference of one GRU step for one direction (gate blocks r, z, n):
 *   r = σ(xr + b_hr + hPrev·W_hrᵀ), z = σ(xz + b_hz + hPrev·W_hzᵀ), h = (1 − z)·n + z·hPrev
 *   linearBeforeReset (PyTorch):  n = tanh(xn + r·(hPrev·W_hnᵀ + b_hn))
 *   otherwise (ONNX default):     n = tanh(xn + (r⊙hPrev)·W_hnᵀ + b_hn)
 * xproj [B, 3H] (x·W_ihᵀ + b_ih), W_hh [3H, H], b_hh [3H] or null, hPrev [B, H].
 */
import type { ResolvedCellOptions } from '../spec/cell-functions.js';
import { cellActivations } from './activations.js';
import { recurrentPreactivation, type CellStepInputs } from './rnn-cell-forward.js';

/**
 * With linearBeforeReset it also returns `saved`, the activations the training kernel stores
 * per unit, slot by slot (each [B, H]): r, z, n, hPrev·W_hnᵀ + b_hn, hPrev.
 */
export function gruCellForwardReference(s: CellStepInputs & { linearBeforeReset: boolean; cell?: ResolvedCellOptions }): { h: Float64Array; saved?: Float64Array[] } {
  const { batch: B, hidden: H } = s;
  // ONNX's cell functions and clip when given; PyTorch's sigmoid and tanh otherwise.
  const { actF, actG } = cellActivations(s.cell, s.direction);
  const h = new Float64Array(B * H);
  const saved = Array.from({ length: 5 }, () => new Float64Array(B * H));
  for (let b = 0; b < B; b++) {
    const x = (g: number, j: number): number => s.xproj[b * 3 * H + g * H + j];
    const r = new Float64Array(H);
    for (let j = 0; j < H; j++) r[j] = actF(x(0, j) + recurrentPreactivation(s, b, j));
    for (let j = 0; j < H; j++) {
      const z = actF(x(1, j) + recurrentPreactivation(s, b, H + j));
      let n: number;
      if (s.linearBeforeReset) {
        const hn = recurrentPreactivation(s, b, 2 * H + j);
        n = actG(x(2, j) + r[j] * hn);
        [r[j], z, n, hn, s.hPrev[b * H + j]].forEach((v, slot) => (saved[slot][b * H + j] = v));
      } else {
        let acc = s.bhh ? s.bhh[2 * H + j] : 0;
        for (let k = 0; k < H; k++) acc += r[k] * s.hPrev[b * H + k] * s.whh[(2 * H + j) * H + k];
        n = actG(x(2, j) + acc);
      }
      h[b * H + j] = (1 - z) * n + z * s.hPrev[b * H + j];
    }
  }
  return s.linearBeforeReset ? { h, saved } : { h };
}
