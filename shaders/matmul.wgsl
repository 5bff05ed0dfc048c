// Batched matrix product with optional bias and accumulation:
//
//   C[z][m, n] = sum_k A'[z][m, k] * B'[z][n, k]  (+ bias[n])  (+ C[z][m, n] when accumulating)
//
// hasBias: 0 none, 1 bias[n] (added along the columns), 2 bias[m] (along the rows: the loader
// runs a thin product transposed, matmulOrientation, and the bias then follows its columns).
// The base form is C = A * B^T, the natural one for weights stored PyTorch-style as
// [out, in]: X [M, K] times W [N, K] transposed. The transpose flags change how the operands
// are stored, not the formula:
//   transA = 0: A stored [M, K], element (m, k) at m * lda + k
//   transA = 1: A stored [K, M], element (m, k) at k * lda + m
//   transB = 0: B stored [N, K], element (n, k) at n * ldb + k     (C = A * B^T)
//   transB = 1: B stored [K, N], element (n, k) at k * ldb + n     (C = A * B)
// Matrix z of a batch starts at offset + z * stride in each buffer (all in f32 elements).
// C's element (m, n) sits at m * ldc + n * colStrideC: a column stride above 1 interleaves
// the matrices of a batch element by element (used to write gate-interleaved weight layouts).
//
// This file holds what every form of the product shares: the uniform, the bindings and the
// loads and stores. The forms, each with its entry point and thread mapping:
//   matmul-tiled.wgsl            operand slabs staged in workgroup memory (GPUs)
//   software/matmul-direct.wgsl  8 x 8 blocks of C read straight from memory, no barrier
//   the slab form                 software adapters with subgroups; its entry point is unrolled
//                                 over a slab of K and generated (src/kernels/matmul-slab.ts)
// A workgroup is WG_X x WG_Y threads (`override` tunables); workgroup (x, y, z) = (column
// tile, row tile, batch matrix).

struct Params {
  M: u32,
  N: u32,
  K: u32,
  lda: u32,
  ldb: u32,
  ldc: u32,
  strideA: u32,
  strideB: u32,
  strideC: u32,
  offsetA: u32,
  offsetB: u32,
  offsetC: u32,
  offsetBias: u32,
  colStrideC: u32,
  transA: u32,
  transB: u32,
  accumulate: u32,
  hasBias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;

fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (p.transA != 0u) { return a[base + k * p.lda + m]; }
  return a[base + m * p.lda + k];
}

fn loadB(base: u32, n: u32, k: u32) -> f32 {
  if (n >= p.N || k >= p.K) { return 0.0; }
  if (p.transB != 0u) { return b[base + k * p.ldb + n]; }
  return b[base + n * p.ldb + k];
}

// The bias of columns n0 .. n0 + 3 (zeros without a bias along the columns; columns past N
// repeat the last, whose sums storeC drops). Loaded once for all the rows of a thread's block.
fn biasOf(n0: u32) -> vec4f {
  if (p.hasBias != 1u) { return vec4f(); }
  let last = p.offsetBias + p.N - 1u;
  let i = p.offsetBias + n0;
  return vec4f(bias[min(i, last)], bias[min(i + 1u, last)], bias[min(i + 2u, last)], bias[min(i + 3u, last)]);
}

// The bias of row m (0 without a bias along the rows; rows past M repeat the last).
fn rowBias(m: u32) -> f32 {
  if (p.hasBias != 2u) { return 0.0; }
  return bias[p.offsetBias + min(m, p.M - 1u)];
}

// Row m, columns n0 .. n0 + 3 of C (those inside the matrix): v (with the columns' bias
// already added) plus the row's bias and, with `add` (accumulate), what C held.
fn storeC(base: u32, m: u32, n0: u32, v: vec4f, add: bool) {
  if (m >= p.M) { return; }
  let rb = rowBias(m);
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n >= p.N) { return; }
    var x = v[j] + rb;
    let ci = base + m * p.ldc + n * p.colStrideC;
    if (add) { x += c[ci]; }
    c[ci] = x;
  }
}
