// What every backward step does with a row past its end.
import { load4, store4 } from './simd';

/**
 * Row b at `step` past its end, units [j0, j1) of each of the G gate blocks: the gradient
 * reaching its state passes on unchanged (recNext = rec; dc stays), and its gate gradients at
 * the padded slot t = step and in this step's rows are 0, so the product and the weight
 * gradients add nothing.
 */
export function passRow(rec: usize, recNext: usize, dG: usize, dGstep: usize, G: i32, B: i32, H: i32, b: i32, step: i32, j0: i32, j1: i32): void {
  const zero = f32x4.splat(0);
  for (let j = j0; j < j1; j += 4) {
    const n = min(4, j1 - j);
    const u = usize(b * H + j) << 2;
    store4(recNext + u, load4(rec + u, n), n);
    for (let g = 0; g < G; g++) {
      store4(dG + (usize((step * B + b) * G * H + g * H + j) << 2), zero, n);
      store4(dGstep + (usize(b * G * H + g * H + j) << 2), zero, n);
    }
  }
}
