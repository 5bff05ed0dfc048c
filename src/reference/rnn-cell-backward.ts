/**
 * float64 reference of one Elman backward step for one direction, and the part every cell's
 * backward shares: the gradient that reaches h_{t−1} through W_hh.
 */
import type { Nonlinearity } from '../spec/spec.js';

/** Σ_r dGrec[b, r]·W_hh[r, j]: the gradient reaching h_{t−1}[b, j] through W_hh [G·H, H]. */
export function gradThroughWhh(batch: number, hidden: number, dGrec: ArrayLike<number>, whh: ArrayLike<number>): Float64Array {
  const GH = whh.length / hidden;
  const out = new Float64Array(batch * hidden);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < hidden; j++) {
      let acc = 0;
      for (let r = 0; r < GH; r++) acc += dGrec[b * GH + r] * whh[r * hidden + j];
      out[b * hidden + j] = acc;
    }
  }
  return out;
}

/** act′ written in terms of h = act(a). */
export function activationDerivative(nonlinearity: Nonlinearity, h: number): number {
  if (nonlinearity === 'relu') return h > 0 ? 1 : 0;
  if (nonlinearity === 'identity') return 1;
  return 1 - h * h;
}

/**
 * dG[b, j] = dh[b, j]·act′(a[b, j]) for h = act(a). `h` [B, H] is the step's output, `dh` the
 * whole gradient reaching it (from the output and from later steps).
 */
export function rnnCellBackwardReference(s: { batch: number; hidden: number; nonlinearity: Nonlinearity; h: ArrayLike<number>; dh: ArrayLike<number> }): { dG: Float64Array } {
  const n = s.batch * s.hidden;
  const dG = new Float64Array(n);
  for (let i = 0; i < n; i++) dG[i] = s.dh[i] * activationDerivative(s.nonlinearity, s.h[i]);
  return { dG };
}
