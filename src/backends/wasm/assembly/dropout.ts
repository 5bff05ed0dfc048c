// Inverted dropout, y = x ⊙ m over n elements (x and y may be one tensor): m_i = scale where
// fmix32(fmix32(i + k0) ^ k1) ≥ threshold, as unsigned 32-bit integers, and 0 elsewhere (the
// mask src/spec/dropout.ts defines, which the WGSL kernel draws too). Four elements a
// vector. Thread mapping: share(n, 4).
import { share } from './simd';

/** MurmurHash3's 32-bit finalizer, lane by lane. */
// @ts-ignore: decorator
@inline function fmix32x4(h: v128): v128 {
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(0x85ebca6b));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(0xc2b2ae35));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

export function dropout(x: usize, y: usize, n: i32, threshold: i32, k0: i32, k1: i32, scale: f32, thread: i32, threads: i32): void {
  const s = share(n, 4, thread, threads);
  const i1 = i32(s);
  const key0 = i32x4.splat(k0);
  const key1 = i32x4.splat(k1);
  const limit = i32x4.splat(threshold);
  const kept = f32x4.splat(scale);
  const dropped = f32x4.splat(0);
  for (let i = i32(s >> 32); i < i1; i += 4) {
    const u = fmix32x4(v128.xor(fmix32x4(i32x4.add(i32x4.add(i32x4.splat(i), i32x4(0, 1, 2, 3)), key0)), key1));
    const m = v128.bitselect(kept, dropped, i32x4.ge_u(u, limit));
    const o = usize(i) << 2;
    if (i + 4 <= i1) v128.store(y + o, f32x4.mul(v128.load(x + o), m));
    else for (let k = 0; k < i1 - i; k++) store<f32>(y + o + (usize(k) << 2), load<f32>(x + o + (usize(k) << 2)) * lane(m, k));
  }
}

/** Lane k of a float vector (k < 4). */
// @ts-ignore: decorator
@inline function lane(v: v128, k: i32): f32 {
  return k == 0 ? f32x4.extract_lane(v, 0) : k == 1 ? f32x4.extract_lane(v, 1) : k == 2 ? f32x4.extract_lane(v, 2) : f32x4.extract_lane(v, 3);
}
