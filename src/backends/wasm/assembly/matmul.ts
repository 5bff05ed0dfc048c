// C = A·B (+ bias) (+ C): the one GEMM of the wasm backend, in the broadcast form of XNNPACK
// and MLAS: a 4 × 8 tile of C stays in eight f32x4 registers while k runs, each step loading
// one row of B (two vectors, contiguous along n) and broadcasting four elements of A.
// A is read through strides (sam, sak) so that Aᵀ (the weight gradients' dGᵀ·X) needs no copy,
// and sam = sak = 0 over a single 1 sums B's rows (the bias gradients).
// Shapes: C [M, N] (row stride ldc), A(m, k) at a + (m·sam + k·sak), B [K, N] (row stride ldb),
// bias [N] or 0; all strides in floats, pointers in bytes.
import { fma, share } from './simd';

/** C[m, n] = (accumulate ? C[m, n] : 0) + bias[n] + Σ_k A(m, k)·B[k, n] for the rows and columns of this thread's share. */
export function matmul(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, bias: usize, M: i32, N: i32, K: i32, accumulate: i32, thread: i32, threads: i32): void {
  // Split the larger of the row-tile and column-tile counts over the threads.
  if ((M + 3) / 4 >= (N + 7) / 8) {
    const s = share(M, 4, thread, threads);
    matmulBlock(c, ldc, a, sam, sak, b, ldb, bias, i32(s >> 32), i32(s), 0, N, K, accumulate);
  } else {
    const s = share(N, 8, thread, threads);
    matmulBlock(c, ldc, a, sam, sak, b, ldb, bias, 0, M, i32(s >> 32), i32(s), K, accumulate);
  }
}

/** The block rows [m0, m1) × columns [n0, n1) of C. */
export function matmulBlock(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, bias: usize, m0: i32, m1: i32, n0: i32, n1: i32, K: i32, accumulate: i32): void {
  let m = m0;
  for (; m + 4 <= m1; m += 4) rows4(c, ldc, a, sam, sak, b, ldb, bias, m, n0, n1, K, accumulate);
  for (; m < m1; m++) rows1(c, ldc, a, sam, sak, b, ldb, bias, m, n0, n1, K, accumulate);
}

// @ts-ignore: decorator
@inline function start(c: usize, bias: usize, n: i32, accumulate: i32): v128 {
  let v = accumulate ? v128.load(c) : f32x4.splat(0);
  if (bias) v = f32x4.add(v, v128.load(bias + (usize(n) << 2)));
  return v;
}

/** Rows m … m+3, columns [n0, n1): 4 × 8 tiles, then the remaining columns one at a time. */
function rows4(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, bias: usize, m: i32, n0: i32, n1: i32, K: i32, accumulate: i32): void {
  const c0 = c + (usize(m * ldc) << 2);
  const c1 = c0 + (usize(ldc) << 2);
  const c2 = c1 + (usize(ldc) << 2);
  const c3 = c2 + (usize(ldc) << 2);
  const a0 = a + (usize(m * sam) << 2);
  const da = usize(sam) << 2;
  const dk = usize(sak) << 2;
  const db = usize(ldb) << 2;
  let n = n0;
  for (; n + 8 <= n1; n += 8) {
    const on = usize(n) << 2;
    let x0 = start(c0 + on, bias, n, accumulate);
    let y0 = start(c0 + on + 16, bias, n + 4, accumulate);
    let x1 = start(c1 + on, bias, n, accumulate);
    let y1 = start(c1 + on + 16, bias, n + 4, accumulate);
    let x2 = start(c2 + on, bias, n, accumulate);
    let y2 = start(c2 + on + 16, bias, n + 4, accumulate);
    let x3 = start(c3 + on, bias, n, accumulate);
    let y3 = start(c3 + on + 16, bias, n + 4, accumulate);
    let pa = a0;
    let pb = b + on;
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(pb);
      const b1 = v128.load(pb, 16);
      let s = v128.load32_splat(pa);
      x0 = fma(s, b0, x0);
      y0 = fma(s, b1, y0);
      s = v128.load32_splat(pa + da);
      x1 = fma(s, b0, x1);
      y1 = fma(s, b1, y1);
      s = v128.load32_splat(pa + 2 * da);
      x2 = fma(s, b0, x2);
      y2 = fma(s, b1, y2);
      s = v128.load32_splat(pa + 3 * da);
      x3 = fma(s, b0, x3);
      y3 = fma(s, b1, y3);
      pa += dk;
      pb += db;
    }
    v128.store(c0 + on, x0);
    v128.store(c0 + on, y0, 16);
    v128.store(c1 + on, x1);
    v128.store(c1 + on, y1, 16);
    v128.store(c2 + on, x2);
    v128.store(c2 + on, y2, 16);
    v128.store(c3 + on, x3);
    v128.store(c3 + on, y3, 16);
  }
  for (let r = 0; r < 4; r++) columns1(c, ldc, a, sam, sak, b, ldb, bias, m + r, n, n1, K, accumulate);
}

/** Row m, columns [n0, n1): 1 × 8 tiles, then the remaining columns. */
function rows1(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, bias: usize, m: i32, n0: i32, n1: i32, K: i32, accumulate: i32): void {
  const c0 = c + (usize(m * ldc) << 2);
  const a0 = a + (usize(m * sam) << 2);
  const dk = usize(sak) << 2;
  const db = usize(ldb) << 2;
  let n = n0;
  for (; n + 8 <= n1; n += 8) {
    const on = usize(n) << 2;
    let x0 = start(c0 + on, bias, n, accumulate);
    let y0 = start(c0 + on + 16, bias, n + 4, accumulate);
    let pa = a0;
    let pb = b + on;
    for (let k = 0; k < K; k++) {
      const s = v128.load32_splat(pa);
      x0 = fma(s, v128.load(pb), x0);
      y0 = fma(s, v128.load(pb, 16), y0);
      pa += dk;
      pb += db;
    }
    v128.store(c0 + on, x0);
    v128.store(c0 + on, y0, 16);
  }
  columns1(c, ldc, a, sam, sak, b, ldb, bias, m, n, n1, K, accumulate);
}

/** Row m, columns [n0, n1) one at a time (fewer than 8). */
function columns1(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, bias: usize, m: i32, n0: i32, n1: i32, K: i32, accumulate: i32): void {
  const a0 = a + (usize(m * sam) << 2);
  const dk = usize(sak) << 2;
  const db = usize(ldb) << 2;
  for (let n = n0; n < n1; n++) {
    const pc = c + (usize(m * ldc + n) << 2);
    let acc: f32 = accumulate ? load<f32>(pc) : 0;
    if (bias) acc += load<f32>(bias + (usize(n) << 2));
    let pa = a0;
    let pb = b + (usize(n) << 2);
    for (let k = 0; k < K; k++) {
      acc += load<f32>(pa) * load<f32>(pb);
      pa += dk;
      pb += db;
    }
    store<f32>(pc, acc);
  }
}
