// One GRU backward step of one direction (linearBeforeReset), elementwise, as
// lstm-cell-backward.ts: dh = dy_t + rec; dG [T, B, 3H] the input-side pre-activation
// gradients (what x·W_ihᵀ + b_ih feeds), dGrec [T, B, 3H] the recurrent side's (block n scaled
// by r) and dGstep [B, 3H] this step's dGrec rows; recNext = z ⊙ dh, the part of the gradient
// of h_{t−1} that bypasses W_hh (the product adds the rest). Units [j0, j1) of share(H, 4).
// save [T, B, 4H] (r, z, n, hn) and hsave [T, B, H] (h_{t−1}) as gru-cell-forward.ts writes them.
import { load4, share, store4 } from './simd';
import { rowLength } from './rows';
import { passRow } from './rows-backward';

export function gruCellBackward(save: usize, hsave: usize, dy: usize, dyld: i32, rec: usize, recNext: usize, dG: usize, dGrec: usize, dGstep: usize, lens: usize, B: i32, H: i32, T: i32, step: i32, reverse: i32, thread: i32, threads: i32): void {
  const s = share(H, 4, thread, threads);
  const j0 = i32(s >> 32);
  const j1 = i32(s);
  const hb = usize(H) << 2;
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  for (let b = 0; b < B; b++) {
    const len = rowLength(lens, b, T);
    if (step >= len) {
      passRow(rec, recNext, dG, dGstep, 3, B, H, b, step, j0, j1);
      // dGrec at the padded slot too.
      for (let j = j0; j < j1; j += 4) for (let g = 0; g < 3; g++) store4(dGrec + (usize((step * B + b) * 3 * H + g * H + j) << 2), zero, min(4, j1 - j));
      continue;
    }
    const t = reverse ? len - 1 - step : step;
    const ps = save + (usize((t * B + b) * 4 * H) << 2);
    const row = usize((t * B + b) * 3 * H) << 2;
    const pgs = dGstep + (usize(b * 3 * H) << 2);
    for (let j = j0; j < j1; j += 4) {
      const n = min(4, j1 - j);
      const oj = usize(j) << 2;
      const u = usize(b * H + j) << 2;
      const dh = f32x4.add(load4(dy + (usize((t * B + b) * dyld + j) << 2), n), load4(rec + u, n));
      const r = load4(ps + oj, n);
      const z = load4(ps + hb + oj, n);
      const nn = load4(ps + 2 * hb + oj, n);
      const hn = load4(ps + 3 * hb + oj, n);
      const hPrev = load4(hsave + (usize((t * B + b) * H + j) << 2), n);
      const dan = f32x4.mul(f32x4.mul(dh, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(nn, nn)));
      const daz = f32x4.mul(f32x4.mul(dh, f32x4.sub(hPrev, nn)), f32x4.mul(z, f32x4.sub(one, z)));
      const dar = f32x4.mul(f32x4.mul(dan, hn), f32x4.mul(r, f32x4.sub(one, r)));
      const danr = f32x4.mul(dan, r);
      store4(dG + row + oj, dar, n);
      store4(dG + row + hb + oj, daz, n);
      store4(dG + row + 2 * hb + oj, dan, n);
      store4(dGrec + row + oj, dar, n);
      store4(dGrec + row + hb + oj, daz, n);
      store4(dGrec + row + 2 * hb + oj, danr, n);
      store4(pgs + oj, dar, n);
      store4(pgs + hb + oj, daz, n);
      store4(pgs + 2 * hb + oj, danr, n);
      store4(recNext + u, f32x4.mul(dh, z), n);
    }
  }
}
