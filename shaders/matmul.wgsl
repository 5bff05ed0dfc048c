// Tiled batched matrix product with optional bias and accumulation:
//
//   C[z][m, n] = sum_k A'[z][m, k] * B'[z][n, k]  (+ bias[n])  (+ C[z][m, n] when accumulating)
//
// The base form is C = A * B^T, the natural one for weights stored PyTorch-style as
// [out, in]: X [M, K] times W [N, K] transposed. The transpose flags change how the operands
// are stored, not the formula:
//   transA = 0: A stored [M, K], element (m, k) at m * lda + k
//   transA = 1: A stored [K, M], element (m, k) at k * lda + m
//   transB = 0: B stored [N, K], element (n, k) at n * ldb + k     (C = A * B^T)
//   transB = 1: B stored [K, N], element (n, k) at k * ldb + n     (C = A * B)
// Matrix z of a batch starts at offset + z * stride in each buffer (all in f32 elements).
//
// Thread mapping: a workgroup of WG_X x WG_Y threads owns a tile of (WG_Y * RM) rows by
// (WG_X * RN) columns of C; thread (x, y) owns rows m0 + y + i * WG_Y (i < RM) and columns
// n0 + x + j * WG_X (j < RN), interleaved so that neighbouring threads read neighbouring
// shared-memory words. Workgroup (x, y, z) = (column tile, row tile, batch matrix).
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

// Register block per thread. Function-scope arrays need creation-time sizes, so these are
// `const`; the workgroup shape and the K slab are `override` tunables.
const RM: u32 = 4u;
const RN: u32 = 4u;
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TILE_K: u32 = 16u;

// aTile: [TILE_K][WG_Y * RM], bTile: [TILE_K][WG_X * RN], k-major.
var<workgroup> aTile: array<f32, TILE_K * WG_Y * RM>;
var<workgroup> bTile: array<f32, TILE_K * WG_X * RN>;

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

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tileM = WG_Y * RM;
  let tileN = WG_X * RN;
  let m0 = wid.y * tileM;
  let n0 = wid.x * tileN;
  let z = wid.z;
  let aBase = p.offsetA + z * p.strideA;
  let bBase = p.offsetB + z * p.strideB;
  let cBase = p.offsetC + z * p.strideC;
  let tid = lid.y * WG_X + lid.x;
  let threads = WG_X * WG_Y;

  var acc: array<f32, RM * RN>;
  for (var i = 0u; i < RM * RN; i++) { acc[i] = 0.0; }

  for (var k0 = 0u; k0 < p.K; k0 += TILE_K) {
    // Stage the slabs: element e of a tile is (row e / TILE_K, k e % TILE_K), so consecutive
    // threads walk along k, which is contiguous in memory for untransposed operands.
    for (var e = tid; e < TILE_K * tileM; e += threads) {
      let kk = e % TILE_K;
      let mm = e / TILE_K;
      aTile[kk * tileM + mm] = loadA(aBase, m0 + mm, k0 + kk);
    }
    for (var e = tid; e < TILE_K * tileN; e += threads) {
      let kk = e % TILE_K;
      let nn = e / TILE_K;
      bTile[kk * tileN + nn] = loadB(bBase, n0 + nn, k0 + kk);
    }
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk++) {
      var av: array<f32, RM>;
      var bv: array<f32, RN>;
      for (var i = 0u; i < RM; i++) { av[i] = aTile[kk * tileM + lid.y + i * WG_Y]; }
      for (var j = 0u; j < RN; j++) { bv[j] = bTile[kk * tileN + lid.x + j * WG_X]; }
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) {
          acc[i * RN + j] = fma(av[i], bv[j], acc[i * RN + j]);
        }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < RM; i++) {
    let m = m0 + lid.y + i * WG_Y;
    if (m >= p.M) { continue; }
    for (var j = 0u; j < RN; j++) {
      let n = n0 + lid.x + j * WG_X;
      if (n >= p.N) { continue; }
      var v = acc[i * RN + j];
      if (p.hasBias != 0u) { v += bias[p.offsetBias + n]; }
      let ci = cBase + m * p.ldc + n;
      if (p.accumulate != 0u) { v += c[ci]; }
      c[ci] = v;
    }
  }
}
