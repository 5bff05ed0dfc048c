// One GRU time step of one direction (gate blocks r, z, n), fused as lstm-cell-forward.ts is:
// this thread's units [j0, j1) of share(H, 8) take their recurrent products, gates and update.
// linearBeforeReset (PyTorch): n = g(xn + r ⊙ (h·W_hnᵀ + b_hn)), one phase.
// Otherwise (ONNX's default) n = g(xn + (r ⊙ h)·W_hnᵀ + b_hn) needs all of r ⊙ h first:
// phase 0 makes r, z and rh = r ⊙ hPrev, a barrier follows, phase 1 the rest.
// Each row's units take two passes: r and z first (stored in hh), then n and h, so that the
// activations of neighbouring units overlap rather than wait on one long chain a unit.
// Shapes as in lstm-cell-forward.ts with 3H gate blocks (whhP: [3][⌈H/8⌉][H][8]); hh [B, 3H] scratch (phase 0 leaves r
// and z there after their functions); rh [B, H] scratch; save 0 or [T, B, 4H] (r, z, n and
// hn = h·W_hnᵀ + b_hn); hsave 0 or [T, B, H] (h_{t−1}).
import { load4, share, store4, vact, vclip } from './simd';
import { matmulBlock } from './matmul';
import { finishedRow, rowLength } from './rows';

export function gruCellForward(
  xp: usize, xld: i32, whhP: usize, bhh: usize, hPrev: usize, hNext: usize, out: usize, old: i32, hh: usize, rh: usize, save: usize, hsave: usize, lens: usize,
  B: i32, H: i32, T: i32, step: i32, reverse: i32, linearBeforeReset: i32, phase: i32,
  fCode: i32, fAlpha: f32, fBeta: f32, gCode: i32, gAlpha: f32, gBeta: f32, clip: f32,
  thread: i32, threads: i32,
): void {
  const s = share(H, 8, thread, threads);
  const j0 = i32(s >> 32);
  const j1 = i32(s);
  if (j0 >= j1) return;
  const G3 = 3 * H;
  const hb = usize(H) << 2;
  const panels = usize((H + 7) >> 3) * usize(H) << 5;
  if (phase == 0) {
    // Linear before reset: all three products now; otherwise r and z only.
    const gates = linearBeforeReset ? 3 : 2;
    for (let g = 0; g < gates; g++) {
      const col = usize(g * H) << 2;
      matmulBlock(hh + col, G3, hPrev, H, 1, whhP + usize(g) * panels, 0, 1, bhh ? bhh + col : 0, 0, B, j0, j1, H, 0);
    }
  } else {
    // (r ⊙ hPrev)·W_hnᵀ + b_hn into the n block.
    matmulBlock(hh + 2 * hb, G3, rh, H, 1, whhP + 2 * panels, 0, 1, bhh ? bhh + 2 * hb : 0, 0, B, j0, j1, H, 0);
  }
  for (let b = 0; b < B; b++) {
    const len = rowLength(lens, b, T);
    if (step >= len) {
      if (linearBeforeReset || phase == 1) finishedRow(hPrev, hNext, out, old, hsave, B, H, b, step, j0, j1);
      continue;
    }
    const t = reverse ? len - 1 - step : step;
    const px = xp + (usize((t * B + b) * xld) << 2);
    const ph = hh + (usize(b * G3) << 2);
    if (phase == 0) {
      // r and z of every unit first, into hh (their short chains overlap across units)…
      for (let j = j0; j < j1; j += 4) {
        const n = min(4, j1 - j);
        const oj = usize(j) << 2;
        const r = vact(fCode, fAlpha, fBeta, vclip(f32x4.add(load4(px + oj, n), load4(ph + oj, n)), clip));
        const z = vact(fCode, fAlpha, fBeta, vclip(f32x4.add(load4(px + hb + oj, n), load4(ph + hb + oj, n)), clip));
        store4(ph + oj, r, n);
        store4(ph + hb + oj, z, n);
        if (!linearBeforeReset) store4(rh + (usize(b * H + j) << 2), f32x4.mul(r, load4(hPrev + (usize(b * H + j) << 2), n)), n);
      }
      if (!linearBeforeReset) continue;
    }
    // …then n and h from them.
    for (let j = j0; j < j1; j += 4) {
      const n = min(4, j1 - j);
      const oj = usize(j) << 2;
      const r = load4(ph + oj, n);
      const z = load4(ph + hb + oj, n);
      const hn = load4(ph + 2 * hb + oj, n);
      const an = linearBeforeReset ? f32x4.add(load4(px + 2 * hb + oj, n), f32x4.mul(r, hn)) : f32x4.add(load4(px + 2 * hb + oj, n), hn);
      const nn = vact(gCode, gAlpha, gBeta, vclip(an, clip));
      const hp = load4(hPrev + (usize(b * H + j) << 2), n);
      // h = (1 − z)·n + z·hPrev = n + z·(hPrev − n)
      const h = f32x4.add(nn, f32x4.mul(z, f32x4.sub(hp, nn)));
      store4(hNext + (usize(b * H + j) << 2), h, n);
      store4(out + (usize((t * B + b) * old + j) << 2), h, n);
      if (save) {
        const ps = save + (usize((t * B + b) * 4 * H + j) << 2);
        store4(ps, r, n);
        store4(ps + hb, z, n);
        store4(ps + 2 * hb, nn, n);
        store4(ps + 3 * hb, hn, n);
      }
      if (hsave) store4(hsave + (usize((t * B + b) * H + j) << 2), hp, n);
    }
  }
}
