// One Elman time step of one direction, fused: this thread's units [j0, j1) of share(H, 8) take
// their recurrent product h·W_hhᵀ + b_hh and h = f(clip(xp + that)).
// Shapes as in lstm-cell-forward.ts with one gate block: whhP [⌈H/8⌉][H][8]; hh [B, H] scratch;
// hsave 0 or [T, B, H] (h_{t−1}); the backward reads h_t from `out`.
import { load4, share, store4, vact, vclip } from './simd';
import { matmulBlock } from './matmul';
import { finishedRow, rowLength } from './rows';

export function rnnCellForward(
  xp: usize, xld: i32, whhP: usize, bhh: usize, hPrev: usize, hNext: usize, out: usize, old: i32, hh: usize, hsave: usize, lens: usize,
  B: i32, H: i32, T: i32, step: i32, reverse: i32,
  fCode: i32, fAlpha: f32, fBeta: f32, clip: f32,
  thread: i32, threads: i32,
): void {
  const s = share(H, 8, thread, threads);
  const j0 = i32(s >> 32);
  const j1 = i32(s);
  if (j0 >= j1) return;
  matmulBlock(hh, H, hPrev, H, 1, whhP, 0, 1, bhh, 0, B, j0, j1, H, 0);
  for (let b = 0; b < B; b++) {
    const len = rowLength(lens, b, T);
    if (step >= len) {
      finishedRow(hPrev, hNext, out, old, hsave, B, H, b, step, j0, j1);
      continue;
    }
    const t = reverse ? len - 1 - step : step;
    const px = xp + (usize((t * B + b) * xld) << 2);
    for (let j = j0; j < j1; j += 4) {
      const n = min(4, j1 - j);
      const oj = usize(j) << 2;
      const a = f32x4.add(load4(px + oj, n), load4(hh + (usize(b * H + j) << 2), n));
      const h = vact(fCode, fAlpha, fBeta, vclip(a, clip));
      store4(hNext + (usize(b * H + j) << 2), h, n);
      store4(out + (usize((t * B + b) * old + j) << 2), h, n);
      if (hsave) store4(hsave + (usize((t * B + b) * H + j) << 2), load4(hPrev + (usize(b * H + j) << 2), n), n);
    }
  }
}
