// Cross-entropy of R rows of C logits against class indices: lossRows[r] =
// scale·w_r·(logsumexp(y_r) − y_r[target_r]), dY = scale·w_r·(softmax(y_r) − onehot),
// scale = 1 / Σ w. Shapes: y, dY [R, C]; target (class indices as floats), mask, lossRows [R].
// Thread mapping: rows, share(R, 1).
import { share } from './simd';

export function crossEntropyLoss(y: usize, target: usize, mask: usize, lossRows: usize, dY: usize, R: i32, C: i32, scale: f32, thread: i32, threads: i32): void {
  const s = share(R, 1, thread, threads);
  for (let r = i32(s >> 32); r < i32(s); r++) {
    const row = y + (usize(r * C) << 2);
    let m: f32 = -Infinity;
    for (let c = 0; c < C; c++) m = max(m, load<f32>(row + (usize(c) << 2)));
    let sum: f32 = 0;
    for (let c = 0; c < C; c++) sum += Mathf.exp(load<f32>(row + (usize(c) << 2)) - m);
    const t = i32(load<f32>(target + (usize(r) << 2)));
    const w = scale * load<f32>(mask + (usize(r) << 2));
    for (let c = 0; c < C; c++) {
      const p = Mathf.exp(load<f32>(row + (usize(c) << 2)) - m) / sum;
      store<f32>(dY + (usize(r * C + c) << 2), w * (p - (c == t ? 1 : 0)));
    }
    store<f32>(lossRows + (usize(r) << 2), w * (m + Mathf.log(sum) - load<f32>(row + (usize(t) << 2))));
  }
}
