/**
 * What the wasm backend can do on this machine: the SIMD multiply-add peak of a register-only
 * loop (assembly/simd-peak.ts) on one thread and on all, and the GEMM's rate at square sizes
 * with B in packed panels (as the forward's products read their weights), with its share of
 * that peak. V8 first runs a function from its baseline compiler and moves
 * hot ones to its optimising one, so every measure is repeated until it stops improving.
 */
import { Program } from './program.js';
import type { WasmRuntime } from './runtime.js';

export interface WasmCeilings {
  backend: 'wasm';
  /** GFLOP/s of the multiply-add loop on one thread and on all the engine's threads. */
  peak: Array<{ threads: number; gflops: number }>;
  /** The GEMM C = A·B at n³ on all threads: ms, GFLOP/s and its share of the all-thread peak. */
  gemm: Array<{ n: number; ms: number; gflops: number; shareOfPeak: number }>;
}

export interface WasmCeilingOptions {
  /** Square GEMM sizes (default [256, 512, 1024]). */
  gemmSizes?: number[];
  /** Timed runs of each measure after the warm-up (default 3): the best counts. */
  runs?: number;
}

/** The best (shortest) of `runs` timings of `fn`, in ms, after calls until a call is no faster than the one before (at most 8). */
function best(fn: () => void, runs: number): number {
  let last = Infinity;
  for (let i = 0; i < 8; i++) {
    const s = performance.now();
    fn();
    const ms = performance.now() - s;
    if (ms >= last * 0.97) break;
    last = ms;
  }
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    fn();
    min = Math.min(min, performance.now() - s);
  }
  return min;
}

export function measureWasmCeilings(rt: WasmRuntime, options: WasmCeilingOptions = {}): WasmCeilings {
  const runs = options.runs ?? 3;
  const { heap } = rt;
  const owned: number[] = [];
  const take = (n: number): number => {
    const p = heap.alloc(n);
    owned.push(p);
    return p;
  };
  try {
    const seeds = take(64);
    heap.f32(seeds, 64).set(Array.from({ length: 64 }, (_, i) => (i % 7) / 7));
    const out = take(4 * rt.threads);
    const rounds = 2_000_000;
    const peakArgs = { seeds, m: 0.999, c: 0.001, n: rounds, out };
    const peak: WasmCeilings['peak'] = [];
    // One thread: the kernel called directly as thread 0 of 1.
    const oneMs = best(() => rt.kernels.simdPeak(seeds, 0.999, 0.001, rounds, out, 0, 1), runs);
    peak.push({ threads: 1, gflops: (96 * rounds) / (oneMs * 1e6) });
    if (rt.threads > 1) {
      const program = new Program().add('simdPeak', peakArgs).encode(heap);
      owned.push(program.ptr);
      const allMs = best(() => rt.run(program), runs);
      peak.push({ threads: rt.threads, gflops: (96 * rounds * rt.threads) / (allMs * 1e6) });
    }
    const top = peak[peak.length - 1].gflops;
    const gemm: WasmCeilings['gemm'] = [];
    for (const n of options.gemmSizes ?? [256, 512, 1024]) {
      // B in the packed panels the forward's products read (n is a multiple of 8 here).
      const a = take(n * n);
      const b = take(Math.ceil(n / 8) * 8 * n);
      const c = take(n * n);
      heap.f32(a, n * n).fill(0.5);
      heap.f32(b, Math.ceil(n / 8) * 8 * n).fill(0.25);
      const program = new Program().add('matmul', { c, ldc: n, a, sam: n, sak: 1, b, ldb: 0, packed: 1, bias: 0, M: n, N: n, K: n, accumulate: 0 }).encode(heap);
      owned.push(program.ptr);
      const ms = best(() => rt.run(program), runs);
      const gflops = (2 * n ** 3) / (ms * 1e6);
      gemm.push({ n, ms, gflops, shareOfPeak: gflops / top });
    }
    return { backend: 'wasm', peak, gemm };
  } finally {
    for (const p of owned) heap.release(p);
  }
}
