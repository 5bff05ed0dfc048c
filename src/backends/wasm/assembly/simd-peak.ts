// The machine's wasm SIMD multiply-add peak: a register-only loop of f32x4 multiply-adds
// (fused in the relaxed build), 16 independent accumulators so that no add waits for the one
// before. Each lane of accumulator a runs x ← x·m + c from x = seeds[a] for n rounds; the sums
// go to out[thread·4 …] so the loop cannot be dropped. 128 flops per round and thread.
import { fma } from './simd';

export function simdPeak(seeds: usize, m: f32, c: f32, n: i32, out: usize, thread: i32, threads: i32): void {
  const vm = f32x4.splat(m);
  const vc = f32x4.splat(c);
  let a0 = v128.load(seeds, 0);
  let a1 = v128.load(seeds, 16);
  let a2 = v128.load(seeds, 32);
  let a3 = v128.load(seeds, 48);
  let a4 = v128.load(seeds, 64);
  let a5 = v128.load(seeds, 80);
  let a6 = v128.load(seeds, 96);
  let a7 = v128.load(seeds, 112);
  let a8 = v128.load(seeds, 128);
  let a9 = v128.load(seeds, 144);
  let a10 = v128.load(seeds, 160);
  let a11 = v128.load(seeds, 176);
  let a12 = v128.load(seeds, 192);
  let a13 = v128.load(seeds, 208);
  let a14 = v128.load(seeds, 224);
  let a15 = v128.load(seeds, 240);
  for (let i = 0; i < n; i++) {
    a0 = fma(a0, vm, vc);
    a1 = fma(a1, vm, vc);
    a2 = fma(a2, vm, vc);
    a3 = fma(a3, vm, vc);
    a4 = fma(a4, vm, vc);
    a5 = fma(a5, vm, vc);
    a6 = fma(a6, vm, vc);
    a7 = fma(a7, vm, vc);
    a8 = fma(a8, vm, vc);
    a9 = fma(a9, vm, vc);
    a10 = fma(a10, vm, vc);
    a11 = fma(a11, vm, vc);
    a12 = fma(a12, vm, vc);
    a13 = fma(a13, vm, vc);
    a14 = fma(a14, vm, vc);
    a15 = fma(a15, vm, vc);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))), f32x4.add(f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)), f32x4.add(f32x4.add(a12, a13), f32x4.add(a14, a15))));
  v128.store(out + (usize(thread) << 4), s);
}
