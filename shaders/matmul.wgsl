// Tiled batched matrix product with optional bias and accumulation:
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
// Thread mapping: a workgroup of WG_X x WG_Y threads owns a tile of 4 WG_Y rows by 4 WG_X
// columns of C (details at the tunables below). Workgroup (x, y, z) = (column tile, row
// tile, batch matrix).
// K is walked in slabs of TILE_K: both operand slabs are staged in workgroup memory, with
// zeros outside the matrix, so any M, N, K is correct, not only tile multiples.

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

// Thread (x, y) of the WG_X x WG_Y workgroup owns the 4 x 4 block of C at rows
// m0 + 4y .. m0 + 4y + 3 and columns n0 + 4x .. n0 + 4x + 3 (DIRECT: the 8 x 8 block at rows
// 8 (WG_Y wid.y + y) .. + 7 and columns 8 (WG_X wid.x + x) .. + 7). Its accumulators are four vec4f
// variables (DIRECT: 64 f32 variables), not an indexed array, so that they stay in registers on
// every implementation.
// The workgroup shape and the K slab are `override` tunables.
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TILE_K: u32 = 16u;

// aTile[kk * WG_Y + y] holds A'(m0 + 4y + i, k0 + kk) in component i;
// bTile[kk * WG_X + x] holds B'(n0 + 4x + j, k0 + kk) in component j.
// (Unused by the DIRECT variant.)
var<workgroup> aTile: array<vec4f, TILE_K * WG_Y>;
var<workgroup> bTile: array<vec4f, TILE_K * WG_X>;

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

#if DIRECT
// DIRECT: no staging. Each thread reads its rows of A' and columns of B' straight from
// memory, so the kernel has no barrier: on a CPU adapter (SwiftShader) workgroup memory is
// ordinary memory and each barrier switches between the workgroup's invocations, which costs
// more than the reuse it buys (decision D8 in docs/decisions.md). There every load at an
// address computed at run time is emulated lane by lane, and those loads, not the
// multiply-adds, set the pace: so each thread owns an 8 x 8 block of C (16 loads for 64
// multiply-adds a k, against 8 for 16 with 4 x 4 blocks; D8).
// The entry point is generated (directMatmulMain in src/kernels/matmul.ts) and appended by the
// loader: its 64 accumulators are separate f32 variables and its 16 loads a k add one scalar
// offset to 16 precomputed ones, written out, since WGSL has no unrolling directive.
#else
@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tileM = WG_Y * 4u;
  let tileN = WG_X * 4u;
  let m0 = wid.y * tileM;
  let n0 = wid.x * tileN;
  let z = wid.z;
  let aBase = p.offsetA + z * p.strideA;
  let bBase = p.offsetB + z * p.strideB;
  let cBase = p.offsetC + z * p.strideC;
  let tid = lid.y * WG_X + lid.x;
  let threads = WG_X * WG_Y;

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < p.K; k0 += TILE_K) {
    // Stage the slabs: element e is (row e / TILE_K, k e % TILE_K), so consecutive threads
    // walk along k, which is contiguous in memory for untransposed operands.
    for (var e = tid; e < TILE_K * tileM; e += threads) {
      let kk = e % TILE_K;
      let mm = e / TILE_K;
      aTile[kk * WG_Y + mm / 4u][mm % 4u] = loadA(aBase, m0 + mm, k0 + kk);
    }
    for (var e = tid; e < TILE_K * tileN; e += threads) {
      let kk = e % TILE_K;
      let nn = e / TILE_K;
      bTile[kk * WG_X + nn / 4u][nn % 4u] = loadB(bBase, n0 + nn, k0 + kk);
    }
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk++) {
      let av = aTile[kk * WG_Y + lid.y];
      let bv = bTile[kk * WG_X + lid.x];
      acc0 = fma(vec4f(av.x), bv, acc0);
      acc1 = fma(vec4f(av.y), bv, acc1);
      acc2 = fma(vec4f(av.z), bv, acc2);
      acc3 = fma(vec4f(av.w), bv, acc3);
    }
    workgroupBarrier();
  }

  let m = m0 + 4u * lid.y;
  let n = n0 + 4u * lid.x;
  let b = biasOf(n);
  storeC(cBase, m, n, acc0 + b, p.accumulate != 0u);
  storeC(cBase, m + 1u, n, acc1 + b, p.accumulate != 0u);
  storeC(cBase, m + 2u, n, acc2 + b, p.accumulate != 0u);
  storeC(cBase, m + 3u, n, acc3 + b, p.accumulate != 0u);
}
#endif
