// The squared L2 norm of n gradients, in parts: partials[thread] (float64) = Σ g² over this
// thread's share(n, 4); the optimizer updates read all parts after a barrier (optimizer.ts).
import { share } from './simd';

export function gradNorm(g: usize, n: i32, partials: usize, thread: i32, threads: i32): void {
  const s = share(n, 4, thread, threads);
  const i0 = i32(s >> 32);
  const i1 = i32(s);
  let acc = f64x2.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const v = v128.load(g + (usize(i) << 2));
    const sq = f32x4.mul(v, v);
    acc = f64x2.add(acc, f64x2.promote_low_f32x4(sq));
    acc = f64x2.add(acc, f64x2.promote_low_f32x4(v128.shuffle<f32>(sq, sq, 2, 3, 0, 1)));
  }
  let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < i1; i++) {
    const v = f64(load<f32>(g + (usize(i) << 2)));
    sum += v * v;
  }
  store<f64>(partials + (usize(thread) << 3), sum);
}
