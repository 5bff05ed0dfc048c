/**
 * float64 reference of one LSTM step for one direction (PyTorch, gate blocks i, f, g, o):
 *   [i f g o] = xproj + b_hh + hPrev·W_hhᵀ;  c = σ(f)·cPrev + σ(i)·tanh(g);  h = σ(o)·tanh(c)
 * xproj [B, 4H] (x·W_ihᵀ + b_ih), W_hh [4H, H], b_hh [4H] or null, hPrev and cPrev [B, H];
 * optional peepholes P [3H]; optional ONNX cell functions, clip and input_forget (f = 1 − i).
 */
import type { ResolvedCellOptions } from '../spec/cell-functions.js';
import { cellActivations } from './activations.js';
import { recurrentPreactivation, type CellStepInputs } from './rnn-cell-forward.js';

/**
 * Also returns `saved`, the activations the training kernel stores per unit, slot by slot
 * (each [B, H]): i, f, g, o (after their nonlinearities), c_t, c_{t−1}.
 */
export function lstmCellForwardReference(s: CellStepInputs & { cPrev: ArrayLike<number>; peephole?: ArrayLike<number> | null; cell?: ResolvedCellOptions }): {
  h: Float64Array;
  c: Float64Array;
  saved: Float64Array[];
} {
  const { batch: B, hidden: H } = s;
  const h = new Float64Array(B * H);
  const c = new Float64Array(B * H);
  const saved = Array.from({ length: 6 }, () => new Float64Array(B * H));
  // ONNX's cell functions and clip when given; PyTorch's sigmoid and tanh otherwise.
  const { actF, actG, actH } = cellActivations(s.cell, s.direction);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const gate = (g: number): number => s.xproj[b * 4 * H + g * H + j] + recurrentPreactivation(s, b, g * H + j);
      // Peepholes (ONNX's P [3H], blocks i, f, o): i and f see c_{t−1}, o sees c_t.
      const P = s.peephole;
      const cOld = s.cPrev[b * H + j];
      const i = actF(gate(0) + (P ? P[j] * cOld : 0));
      const f = s.cell?.inputForget ? 1 - i : actF(gate(1) + (P ? P[H + j] * cOld : 0));
      const g = actG(gate(2));
      const cNew = f * cOld + i * g;
      const o = actF(gate(3) + (P ? P[2 * H + j] * cNew : 0));
      c[b * H + j] = cNew;
      h[b * H + j] = o * actH(cNew);
      [i, f, g, o, cNew, s.cPrev[b * H + j]].forEach((v, slot) => (saved[slot][b * H + j] = v));
    }
  }
  return { h, c, saved };
}
