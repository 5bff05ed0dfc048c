// C = A·B (+ bias) (+ C): the one GEMM of the wasm backend, in the broadcast form of XNNPACK
// and MLAS: a 4 × 8 tile of C stays in eight f32x4 registers while k runs, each step loading
// one row of B's 8 columns (two vectors) and broadcasting four elements of A.
// A is read through strides (sam, sak) so that Aᵀ (the weight gradients' dGᵀ·X) needs no copy,
// and sam = sak = 0 over a single 1 sums B's rows (the bias gradients).
// B is row-major [K, N] (row stride ldb), or with `packed` in panels of 8 columns,
// [⌈N/8⌉][K][8] zero-padded (pack-panels.ts makes them of the weights): a panel's K rows are
// contiguous, read in order, and its padding lets the last columns take the vector path too.
// Loop order: blocks of KB of the K dimension (later blocks add to C) × blocks of MB rows of A
// (kept in L2) × panels of 8 columns of B, KB rows of each (kept in L1) × the block's row tiles.
// Shapes: C [M, N] (row stride ldc), A(m, k) at a + (m·sam + k·sak), bias [N] or 0; all
// strides in floats, pointers in bytes.
import { fma, load4, share, store4 } from './simd';

/** Rows of A in a block: 64 rows of K = 512 floats take 128 KiB (an L2's share; decision D11). */
const MB = 64;
/** Depth of a block of K: a panel's 256 rows of 8 floats take 8 KiB of L1 (decision D11). */
const KB = 256;

/** C[m, n] = (accumulate ? C[m, n] : 0) + bias[n] + Σ_k A(m, k)·B[k, n] for the rows and columns of this thread's share. */
export function matmul(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, packed: i32, bias: usize, M: i32, N: i32, K: i32, accumulate: i32, thread: i32, threads: i32): void {
  // Split the larger of the row-tile and column-tile counts over the threads.
  if ((M + 3) / 4 >= (N + 7) / 8) {
    const s = share(M, 4, thread, threads);
    matmulBlock(c, ldc, a, sam, sak, b, ldb, packed, bias, i32(s >> 32), i32(s), 0, N, K, accumulate);
  } else {
    const s = share(N, 8, thread, threads);
    matmulBlock(c, ldc, a, sam, sak, b, ldb, packed, bias, 0, M, i32(s >> 32), i32(s), K, accumulate);
  }
}

/** The block rows [m0, m1) × columns [n0, n1) of C; n0 is a multiple of 8 where B is packed. */
export function matmulBlock(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, packed: i32, bias: usize, m0: i32, m1: i32, n0: i32, n1: i32, K: i32, accumulate: i32): void {
  if (K <= KB) {
    matmulDepth(c, ldc, a, sam, sak, b, ldb, packed, bias, m0, m1, n0, n1, K, K, accumulate);
    return;
  }
  // Block k0 reads A's columns and B's rows from k0 (a panel's rows from k0, its stride still K).
  for (let k0 = 0; k0 < K; k0 += KB) {
    const a0 = a + (usize(k0 * sak) << 2);
    const b0 = packed ? b + (usize(k0) << 5) : b + (usize(k0 * ldb) << 2);
    matmulDepth(c, ldc, a0, sam, sak, b0, ldb, packed, k0 == 0 ? bias : 0, m0, m1, n0, n1, min(KB, K - k0), K, k0 == 0 ? accumulate : 1);
  }
}

/** matmulBlock over a depth of `depth` rows of B; `K` is a packed panel's row count (its stride). */
function matmulDepth(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, packed: i32, bias: usize, m0: i32, m1: i32, n0: i32, n1: i32, depth: i32, K: i32, accumulate: i32): void {
  const db = packed ? usize(32) : usize(ldb) << 2;
  for (let mb = m0; mb < m1; mb += MB) {
    const me = min(mb + MB, m1);
    // Rows in fours; the last one to three in wider tiles of one row.
    const m4 = mb + ((me - mb) & ~3);
    let n = n0;
    for (; n < n1; n += 8) {
      const w = min(8, n1 - n);
      // An unpacked B's last columns have nothing past them to read: one at a time.
      if (w < 8 && !packed) break;
      const pb = panel(b, packed, n, K);
      for (let m = mb; m < m4; m += 4) tile4(c, ldc, a, sam, sak, pb, db, bias, m, n, w, depth, accumulate);
    }
    for (let m = mb; m < m4; m++) columns1(c, ldc, a, sam, sak, b, ldb, bias, m, n, n1, depth, accumulate);
    for (let m = m4; m < me; m++) row(c, ldc, a, sam, sak, b, ldb, packed, db, bias, m, n0, n1, depth, K, accumulate);
  }
}

/** Where column n's 8 start in B: its panel, or its place in row 0. */
// @ts-ignore: decorator
@inline function panel(b: usize, packed: i32, n: i32, K: i32): usize {
  return packed ? b + ((usize(n >> 3) * usize(K)) << 5) : b + (usize(n) << 2);
}

/**
 * Row m, columns [n0, n1): 1 × 32 tiles (eight accumulators, so that the multiply-adds of a
 * k do not wait on one another's results: a lone row is the batch-1 step's product), then
 * 1 × 8, then one column at a time where B is unpacked.
 */
function row(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, ldb: i32, packed: i32, db: usize, bias: usize, m: i32, n0: i32, n1: i32, depth: i32, K: i32, accumulate: i32): void {
  let n = n0;
  for (; n + 32 <= n1; n += 32) tile1x32(c, ldc, a, sam, sak, b, packed, db, bias, m, n, depth, K, accumulate);
  for (; n < n1; n += 8) {
    const w = min(8, n1 - n);
    if (w < 8 && !packed) break;
    tile1(c, ldc, a, sam, sak, panel(b, packed, n, K), db, bias, m, n, w, depth, accumulate);
  }
  columns1(c, ldc, a, sam, sak, b, ldb, bias, m, n, n1, depth, accumulate);
}

/** Row m × columns n … n+31 over `depth` rows of B: four panels (packed; K rows each) or 32 columns of B's rows. */
function tile1x32(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, packed: i32, db: usize, bias: usize, m: i32, n: i32, depth: i32, K: i32, accumulate: i32): void {
  const c0 = c + (usize(m * ldc + n) << 2);
  let x0 = start(c0, bias, n, 4, accumulate);
  let x1 = start(c0 + 16, bias, n + 4, 4, accumulate);
  let x2 = start(c0 + 32, bias, n + 8, 4, accumulate);
  let x3 = start(c0 + 48, bias, n + 12, 4, accumulate);
  let x4 = start(c0 + 64, bias, n + 16, 4, accumulate);
  let x5 = start(c0 + 80, bias, n + 20, 4, accumulate);
  let x6 = start(c0 + 96, bias, n + 24, 4, accumulate);
  let x7 = start(c0 + 112, bias, n + 28, 4, accumulate);
  // The four groups of 8 columns: panels K·8 floats apart (packed), or 8 floats apart in a row.
  let p = panel(b, packed, n, K);
  const g = packed ? usize(K) << 5 : usize(32);
  let pa = a + (usize(m * sam) << 2);
  const dk = usize(sak) << 2;
  for (let k = 0; k < depth; k++) {
    const s = v128.load32_splat(pa);
    x0 = fma(s, v128.load(p), x0);
    x1 = fma(s, v128.load(p, 16), x1);
    x2 = fma(s, v128.load(p + g), x2);
    x3 = fma(s, v128.load(p + g, 16), x3);
    x4 = fma(s, v128.load(p + 2 * g), x4);
    x5 = fma(s, v128.load(p + 2 * g, 16), x5);
    x6 = fma(s, v128.load(p + 3 * g), x6);
    x7 = fma(s, v128.load(p + 3 * g, 16), x7);
    pa += dk;
    p += db;
  }
  v128.store(c0, x0);
  v128.store(c0, x1, 16);
  v128.store(c0, x2, 32);
  v128.store(c0, x3, 48);
  v128.store(c0, x4, 64);
  v128.store(c0, x5, 80);
  v128.store(c0, x6, 96);
  v128.store(c0, x7, 112);
}

/** The first value of C's 4 columns from n: 0 or C, plus the bias. */
// @ts-ignore: decorator
@inline function start(pc: usize, bias: usize, n: i32, w: i32, accumulate: i32): v128 {
  let v = accumulate ? load4(pc, w) : f32x4.splat(0);
  if (bias) v = f32x4.add(v, load4(bias + (usize(n) << 2), w));
  return v;
}

/** Rows m … m+3 × columns n … n+w−1 (w ≤ 8, 8 read from B). */
function tile4(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, pb: usize, db: usize, bias: usize, m: i32, n: i32, w: i32, K: i32, accumulate: i32): void {
  const rc = usize(ldc) << 2;
  const c0 = c + (usize(m * ldc + n) << 2);
  const c1 = c0 + rc;
  const c2 = c1 + rc;
  const c3 = c2 + rc;
  const wx = min(w, 4);
  const wy = w - 4;
  let x0 = start(c0, bias, n, wx, accumulate);
  let x1 = start(c1, bias, n, wx, accumulate);
  let x2 = start(c2, bias, n, wx, accumulate);
  let x3 = start(c3, bias, n, wx, accumulate);
  let y0 = f32x4.splat(0);
  let y1 = f32x4.splat(0);
  let y2 = f32x4.splat(0);
  let y3 = f32x4.splat(0);
  if (wy > 0) {
    y0 = start(c0 + 16, bias, n + 4, wy, accumulate);
    y1 = start(c1 + 16, bias, n + 4, wy, accumulate);
    y2 = start(c2 + 16, bias, n + 4, wy, accumulate);
    y3 = start(c3 + 16, bias, n + 4, wy, accumulate);
  }
  let pa = a + (usize(m * sam) << 2);
  const da = usize(sam) << 2;
  const dk = usize(sak) << 2;
  let p = pb;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(p);
    const b1 = v128.load(p, 16);
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
    p += db;
  }
  store4(c0, x0, wx);
  store4(c1, x1, wx);
  store4(c2, x2, wx);
  store4(c3, x3, wx);
  if (wy > 0) {
    store4(c0 + 16, y0, wy);
    store4(c1 + 16, y1, wy);
    store4(c2 + 16, y2, wy);
    store4(c3 + 16, y3, wy);
  }
}

/** Row m × columns n … n+w−1. */
function tile1(c: usize, ldc: i32, a: usize, sam: i32, sak: i32, pb: usize, db: usize, bias: usize, m: i32, n: i32, w: i32, K: i32, accumulate: i32): void {
  const c0 = c + (usize(m * ldc + n) << 2);
  const wx = min(w, 4);
  const wy = w - 4;
  let x0 = start(c0, bias, n, wx, accumulate);
  let y0 = wy > 0 ? start(c0 + 16, bias, n + 4, wy, accumulate) : f32x4.splat(0);
  let pa = a + (usize(m * sam) << 2);
  const dk = usize(sak) << 2;
  let p = pb;
  for (let k = 0; k < K; k++) {
    const s = v128.load32_splat(pa);
    x0 = fma(s, v128.load(p), x0);
    y0 = fma(s, v128.load(p, 16), y0);
    pa += dk;
    p += db;
  }
  store4(c0, x0, wx);
  if (wy > 0) store4(c0 + 16, y0, wy);
}

/** Row m, columns [n0, n1) of an unpacked B one at a time (fewer than 8). */
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
