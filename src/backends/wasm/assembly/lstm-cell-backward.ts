// One LSTM backward step of one direction, elementwise: from dh = dy_t + rec (the gradient
// reaching h_t from the output and from step t+1), dc (reaching c_t) and the saved activations,
// the gate pre-activation gradients dG and dc_{t−1}. The product rec' = dG·W_hh follows as a
// matmul after a barrier (it reads every unit's dG). Thread mapping: units [j0, j1) of share(H, 4).
// Shapes: save [T, B, 6H] as lstm-cell-forward.ts writes it; dy [T, B, ·] this direction's
// block at row stride dyld; rec, recNext, dc [B, H] (dc in place; recNext = 0 here, the product
// adds to it); dG [T, B, 4H] all steps (the weight gradients' operand); dGstep [B, 4H] this step's
// rows (the product's operand). A row past its end passes rec and dc on, with dG = 0.
import { load4, share, store4, vtanh } from './simd';
import { rowLength } from './rows';
import { passRow } from './rows-backward';

export function lstmCellBackward(save: usize, dy: usize, dyld: i32, rec: usize, recNext: usize, dc: usize, dG: usize, dGstep: usize, lens: usize, B: i32, H: i32, T: i32, step: i32, reverse: i32, thread: i32, threads: i32): void {
  const s = share(H, 4, thread, threads);
  const j0 = i32(s >> 32);
  const j1 = i32(s);
  const hb = usize(H) << 2;
  const one = f32x4.splat(1);
  for (let b = 0; b < B; b++) {
    const len = rowLength(lens, b, T);
    if (step >= len) {
      passRow(rec, recNext, dG, dGstep, 4, B, H, b, step, j0, j1);
      continue;
    }
    const t = reverse ? len - 1 - step : step;
    const ps = save + (usize((t * B + b) * 6 * H) << 2);
    const pg = dG + (usize((t * B + b) * 4 * H) << 2);
    const pgs = dGstep + (usize(b * 4 * H) << 2);
    for (let j = j0; j < j1; j += 4) {
      const n = min(4, j1 - j);
      const oj = usize(j) << 2;
      const u = usize(b * H + j) << 2;
      const dh = f32x4.add(load4(dy + (usize((t * B + b) * dyld + j) << 2), n), load4(rec + u, n));
      const i = load4(ps + oj, n);
      const f = load4(ps + hb + oj, n);
      const g = load4(ps + 2 * hb + oj, n);
      const o = load4(ps + 3 * hb + oj, n);
      const tc = vtanh(load4(ps + 4 * hb + oj, n));
      const cPrev = load4(ps + 5 * hb + oj, n);
      // dc_t = dc + dh·o·(1 − tanh²c)
      const dct = f32x4.add(load4(dc + u, n), f32x4.mul(f32x4.mul(dh, o), f32x4.sub(one, f32x4.mul(tc, tc))));
      store4(dc + u, f32x4.mul(dct, f), n);
      const di = f32x4.mul(f32x4.mul(dct, g), f32x4.mul(i, f32x4.sub(one, i)));
      const df = f32x4.mul(f32x4.mul(dct, cPrev), f32x4.mul(f, f32x4.sub(one, f)));
      const dg = f32x4.mul(f32x4.mul(dct, i), f32x4.sub(one, f32x4.mul(g, g)));
      const dO = f32x4.mul(f32x4.mul(dh, tc), f32x4.mul(o, f32x4.sub(one, o)));
      store4(pg + oj, di, n);
      store4(pg + hb + oj, df, n);
      store4(pg + 2 * hb + oj, dg, n);
      store4(pg + 3 * hb + oj, dO, n);
      store4(pgs + oj, di, n);
      store4(pgs + hb + oj, df, n);
      store4(pgs + 2 * hb + oj, dg, n);
      store4(pgs + 3 * hb + oj, dO, n);
      store4(recNext + u, f32x4.splat(0), n);
    }
  }
}
