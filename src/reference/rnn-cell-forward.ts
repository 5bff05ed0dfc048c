/**
 * float64 reference of one Elman step for one direction:
 *   h[b, j] = act(xproj[b, j] + b_hh[j] + Σ_k hPrev[b, k]·W_hh[j, k])
 * xproj [B, H] is the input projection x·W_ihᵀ + b_ih of this step; W_hh [H, H] row-major
 * (PyTorch layout); b_hh [H] or null.
 */
import type { Nonlinearity } from '../spec/spec.js';
import type { ResolvedCellOptions } from '../spec/cell-functions.js';
import { cellActivations } from './activations.js';

export interface CellStepInputs {
  batch: number;
  hidden: number;
  xproj: ArrayLike<number>;
  hPrev: ArrayLike<number>;
  whh: ArrayLike<number>;
  bhh: ArrayLike<number> | null;
  /** The direction this step belongs to (0 forward, 1 reverse): it picks the cell functions. Default 0. */
  direction?: number;
  /** Features of hPrev, W_hh's columns: `hidden`, or a projecting LSTM's projSize. */
  recurrent?: number;
}

/** Σ_k hPrev[b, k]·W_hh[row, k] + b_hh[row]: the recurrent pre-activation of gate row `row`. */
export function recurrentPreactivation(s: CellStepInputs, b: number, row: number): number {
  const R = s.recurrent ?? s.hidden;
  let acc = s.bhh ? s.bhh[row] : 0;
  for (let k = 0; k < R; k++) acc += s.hPrev[b * R + k] * s.whh[row * R + k];
  return acc;
}

export function activate(nonlinearity: Nonlinearity, x: number): number {
  if (nonlinearity === 'relu') return Math.max(x, 0);
  if (nonlinearity === 'identity') return x;
  return Math.tanh(x);
}

/** With `cell` (ONNX's functions and clip), its f replaces the nonlinearity. */
export function rnnCellForwardReference(s: CellStepInputs & { nonlinearity: Nonlinearity; cell?: ResolvedCellOptions }): { h: Float64Array } {
  const { batch: B, hidden: H } = s;
  const act = s.cell ? cellActivations(s.cell, s.direction).actF : (x: number): number => activate(s.nonlinearity, x);
  const h = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      h[b * H + j] = act(s.xproj[b * H + j] + recurrentPreactivation(s, b, j));
    }
  }
  return { h };
}
