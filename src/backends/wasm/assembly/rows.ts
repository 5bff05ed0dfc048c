// What every cell step does with a row's length: rows past their end keep their state.
import { load4, store4 } from './simd';

/** Row b's length: lens[b] where lengths are given (lens ≠ 0), T otherwise. */
// @ts-ignore: decorator
@inline export function rowLength(lens: usize, b: i32, T: i32): i32 {
  return lens ? load<i32>(lens + (usize(b) << 2)) : T;
}

/**
 * A row past its end at `step`, units [j0, j1): hNext = hPrev, zeros at output row t = step
 * (each padded (t, b) is visited once, in either direction), and h_{t−1} = hPrev saved there
 * so that the weight gradients read finite values (their dG is 0).
 */
export function finishedRow(hPrev: usize, hNext: usize, out: usize, old: i32, hsave: usize, B: i32, H: i32, b: i32, step: i32, j0: i32, j1: i32): void {
  for (let j = j0; j < j1; j += 4) {
    const n = min(4, j1 - j);
    const h = load4(hPrev + (usize(b * H + j) << 2), n);
    store4(hNext + (usize(b * H + j) << 2), h, n);
    store4(out + (usize((step * B + b) * old + j) << 2), f32x4.splat(0), n);
    if (hsave) store4(hsave + (usize((step * B + b) * H + j) << 2), h, n);
  }
}
