// The tiled form of the batched product (matmul.wgsl; the form for GPUs). Thread (x, y) of the
// WG_X x WG_Y workgroup owns the 4 x 4 block of C at rows m0 + 4y .. m0 + 4y + 3 and columns
// n0 + 4x .. n0 + 4x + 3 of the workgroup's tile of 4 WG_Y rows by 4 WG_X columns. Its
// accumulators are four vec4f variables, not an indexed array, so that they stay in registers
// on every implementation. K is walked in slabs of TILE_K (an `override` tunable): both operand
// slabs are staged in workgroup memory, with zeros outside the matrix, so any M, N, K is
// correct, not only tile multiples.
override TILE_K: u32 = 16u;

// aTile[kk * WG_Y + y] holds A'(m0 + 4y + i, k0 + kk) in component i;
// bTile[kk * WG_X + x] holds B'(n0 + 4x + j, k0 + kk) in component j.
var<workgroup> aTile: array<vec4f, TILE_K * WG_Y>;
var<workgroup> bTile: array<vec4f, TILE_K * WG_X>;

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
    // Stage the slabs: element e is (rows 4 (e / TILE_K) .. + 3, k e % TILE_K), so consecutive
    // threads walk along k, which is contiguous in memory for untransposed operands. One thread
    // writes each vec4f whole: a write to one component may touch the whole vector (WGSL), so
    // components written by different threads would race.
    for (var e = tid; e < TILE_K * WG_Y; e += threads) {
      let kk = e % TILE_K;
      let mm = 4u * (e / TILE_K);
      aTile[kk * WG_Y + e / TILE_K] = vec4f(loadA(aBase, m0 + mm, k0 + kk), loadA(aBase, m0 + mm + 1u, k0 + kk), loadA(aBase, m0 + mm + 2u, k0 + kk), loadA(aBase, m0 + mm + 3u, k0 + kk));
    }
    for (var e = tid; e < TILE_K * WG_X; e += threads) {
      let kk = e % TILE_K;
      let nn = 4u * (e / TILE_K);
      bTile[kk * WG_X + e / TILE_K] = vec4f(loadB(bBase, n0 + nn, k0 + kk), loadB(bBase, n0 + nn + 1u, k0 + kk), loadB(bBase, n0 + nn + 2u, k0 + kk), loadB(bBase, n0 + nn + 3u, k0 + kk));
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
