// One Elman backward step of one direction, elementwise, as lstm-cell-backward.ts:
// dG = (dy_t + rec) ⊙ f′, f′ written in terms of h_t = f(a): tanh 1 − h², relu [h > 0],
// identity 1 (nonlinearity 0, 1, 2). h_t is read from the forward's output `out` [T, B, ·] (this
// direction's block at row stride old). dG [T, B, H], dGstep [B, H], recNext = 0 (the product
// adds dG·W_hh). Units [j0, j1) of share(H, 4).
import { load4, share, store4 } from './simd';
import { rowLength } from './rows';
import { passRow } from './rows-backward';

export function rnnCellBackward(out: usize, old: i32, dy: usize, dyld: i32, rec: usize, recNext: usize, dG: usize, dGstep: usize, lens: usize, B: i32, H: i32, T: i32, step: i32, reverse: i32, nonlinearity: i32, thread: i32, threads: i32): void {
  const s = share(H, 4, thread, threads);
  const j0 = i32(s >> 32);
  const j1 = i32(s);
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  for (let b = 0; b < B; b++) {
    const len = rowLength(lens, b, T);
    if (step >= len) {
      passRow(rec, recNext, dG, dGstep, 1, B, H, b, step, j0, j1);
      continue;
    }
    const t = reverse ? len - 1 - step : step;
    for (let j = j0; j < j1; j += 4) {
      const n = min(4, j1 - j);
      const u = usize(b * H + j) << 2;
      const dh = f32x4.add(load4(dy + (usize((t * B + b) * dyld + j) << 2), n), load4(rec + u, n));
      const h = load4(out + (usize((t * B + b) * old + j) << 2), n);
      let d: v128;
      if (nonlinearity == 0) d = f32x4.mul(dh, f32x4.sub(one, f32x4.mul(h, h)));
      else if (nonlinearity == 1) d = v128.and(dh, f32x4.gt(h, zero));
      else d = dh;
      store4(dG + (usize((t * B + b) * H + j) << 2), d, n);
      store4(dGstep + u, d, n);
      store4(recNext + u, zero, n);
    }
  }
}
