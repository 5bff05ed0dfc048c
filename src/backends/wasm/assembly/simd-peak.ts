// The machine's wasm SIMD multiply-add peak: a register-only loop of f32x4 multiply-adds
// (fused in the relaxed build), 12 independent accumulators so that no add waits for the one
// before, and few enough that they and the two operands stay in x64's 16 vector registers
// (V8 uses xmm0-15); each accumulator is the addend, as in the GEMM. Each lane of accumulator a
// runs x ← m·c + x from x = seeds[a] for n rounds; the sums go to out[thread·4 …] so the loop
// cannot be dropped. 96 flops per round and thread.
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
  for (let i = 0; i < n; i++) {
    a0 = fma(vm, vc, a0);
    a1 = fma(vm, vc, a1);
    a2 = fma(vm, vc, a2);
    a3 = fma(vm, vc, a3);
    a4 = fma(vm, vc, a4);
    a5 = fma(vm, vc, a5);
    a6 = fma(vm, vc, a6);
    a7 = fma(vm, vc, a7);
    a8 = fma(vm, vc, a8);
    a9 = fma(vm, vc, a9);
    a10 = fma(vm, vc, a10);
    a11 = fma(vm, vc, a11);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))), f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)));
  v128.store(out + (usize(thread) << 4), s);
}
