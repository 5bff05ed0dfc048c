// Mean squared error of R rows of O outputs: lossRows[r] = scale·w_r·Σ_o (y − target)² and
// dY = 2·scale·w_r·(y − target), scale = 1 / (O·Σ w). Shapes: y, target, dY [R, O]; mask,
// lossRows [R]. Thread mapping: rows, share(R, 1).
import { share } from './simd';

export function mseLoss(y: usize, target: usize, mask: usize, lossRows: usize, dY: usize, R: i32, O: i32, scale: f32, thread: i32, threads: i32): void {
  const s = share(R, 1, thread, threads);
  for (let r = i32(s >> 32); r < i32(s); r++) {
    const w = scale * load<f32>(mask + (usize(r) << 2));
    let acc: f32 = 0;
    for (let o = 0; o < O; o++) {
      const i = usize(r * O + o) << 2;
      const diff = load<f32>(y + i) - load<f32>(target + i);
      acc += diff * diff;
      store<f32>(dY + i, 2 * w * diff);
    }
    store<f32>(lossRows + (usize(r) << 2), w * acc);
  }
}
