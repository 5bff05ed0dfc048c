// One LSTM time step of one direction, fused: the recurrent product of this thread's units
// (all four gate blocks), then their gates and state update. Thread mapping: the units [j0, j1)
// of share(H, 8) belong to one thread in both parts, so the step needs no barrier inside;
// the next step reads all of hNext and follows a barrier.
// Shapes (floats; pointers in bytes): xp [T, B, ·] the input projections x·W_ihᵀ + b_ih, this
// direction's 4H block at row stride xld; whhP W_hhᵀ as matmul's panels, one set a gate block
// ([4][⌈H/8⌉][H][8], pack-panels.ts); bhh [4H] or 0; peep [3H] or 0
// (ONNX's P, blocks i, f, o); hPrev, hNext, c [B, H] (c updated in place); out [T, B, ·] this
// direction's H block at row stride old; hh [B, 4H] scratch; save 0 or [T, B, 6H]
// (i, f, g, o after their functions, c_t, c_{t−1}); hsave 0 or [T, B, H] (h_{t−1});
// lens 0 or i32 [B]. Row b runs while step < lens[b]; its time is t = step, or lens[b] − 1 − step
// in reverse. A finished row keeps its state and gets zeros at output row t = step.
import { load4, share, store4, vact, vclip } from './simd';
import { matmulBlock } from './matmul';
import { finishedRow, rowLength } from './rows';

export function lstmCellForward(
  xp: usize, xld: i32, whhP: usize, bhh: usize, peep: usize, hPrev: usize, hNext: usize, c: usize, out: usize, old: i32, hh: usize, save: usize, hsave: usize, lens: usize,
  B: i32, H: i32, T: i32, step: i32, reverse: i32,
  fCode: i32, fAlpha: f32, fBeta: f32, gCode: i32, gAlpha: f32, gBeta: f32, hCode: i32, hAlpha: f32, hBeta: f32, clip: f32, inputForget: i32,
  thread: i32, threads: i32,
): void {
  const s = share(H, 8, thread, threads);
  const j0 = i32(s >> 32);
  const j1 = i32(s);
  if (j0 >= j1) return;
  const G4 = 4 * H;
  const panels = usize((H + 7) >> 3) * usize(H) << 5;
  for (let g = 0; g < 4; g++) {
    const col = usize(g * H) << 2;
    matmulBlock(hh + col, G4, hPrev, H, 1, whhP + usize(g) * panels, 0, 1, bhh ? bhh + col : 0, 0, B, j0, j1, H, 0);
  }
  const hb = usize(H) << 2;
  for (let b = 0; b < B; b++) {
    const len = rowLength(lens, b, T);
    if (step >= len) {
      finishedRow(hPrev, hNext, out, old, hsave, B, H, b, step, j0, j1);
      continue;
    }
    const t = reverse ? len - 1 - step : step;
    const px = xp + (usize((t * B + b) * xld) << 2);
    const ph = hh + (usize(b * G4) << 2);
    const pc = c + (usize(b * H) << 2);
    for (let j = j0; j < j1; j += 4) {
      const n = min(4, j1 - j);
      const oj = usize(j) << 2;
      const cOld = load4(pc + oj, n);
      let ai = f32x4.add(load4(px + oj, n), load4(ph + oj, n));
      let af = f32x4.add(load4(px + hb + oj, n), load4(ph + hb + oj, n));
      const ag = f32x4.add(load4(px + 2 * hb + oj, n), load4(ph + 2 * hb + oj, n));
      let ao = f32x4.add(load4(px + 3 * hb + oj, n), load4(ph + 3 * hb + oj, n));
      if (peep) {
        ai = f32x4.add(ai, f32x4.mul(load4(peep + oj, n), cOld));
        af = f32x4.add(af, f32x4.mul(load4(peep + hb + oj, n), cOld));
      }
      const i = vact(fCode, fAlpha, fBeta, vclip(ai, clip));
      const f = inputForget ? f32x4.sub(f32x4.splat(1), i) : vact(fCode, fAlpha, fBeta, vclip(af, clip));
      const gg = vact(gCode, gAlpha, gBeta, vclip(ag, clip));
      const cNew = f32x4.add(f32x4.mul(f, cOld), f32x4.mul(i, gg));
      if (peep) ao = f32x4.add(ao, f32x4.mul(load4(peep + 2 * hb + oj, n), cNew));
      const o = vact(fCode, fAlpha, fBeta, vclip(ao, clip));
      const h = f32x4.mul(o, vact(hCode, hAlpha, hBeta, cNew));
      store4(pc + oj, cNew, n);
      store4(hNext + (usize(b * H + j) << 2), h, n);
      store4(out + (usize((t * B + b) * old + j) << 2), h, n);
      if (save) {
        const ps = save + (usize((t * B + b) * 6 * H + j) << 2);
        store4(ps, i, n);
        store4(ps + hb, f, n);
        store4(ps + 2 * hb, gg, n);
        store4(ps + 3 * hb, o, n);
        store4(ps + 4 * hb, cNew, n);
        store4(ps + 5 * hb, cOld, n);
      }
      if (hsave) store4(hsave + (usize((t * B + b) * H + j) << 2), load4(hPrev + (usize(b * H + j) << 2), n), n);
    }
  }
}
