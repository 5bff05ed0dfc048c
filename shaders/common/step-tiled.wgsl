// The tiled form of the per-step forward (GPUs, large batch x hidden): the step's product
// h_{t-1} W_hh^T is a [B, H] x [H, G H] GEMM, computed with the tiling of matmul-tiled.wgsl,
// and the cell is its epilogue, so gates never make a round trip through memory.
//
// Thread mapping: workgroup (x, y, z) = (block of TILE_UNITS units, block of 4 TILE_QUADS rows,
// direction d); invocation (lx, ly) owns unit j = x TILE_UNITS + lx of the 4 rows
// b0 = 4 (y TILE_QUADS + ly) .. b0 + 3, all G gates of each (the 4 x 4 block of the GEMM's
// output whose columns are the unit's gates, as whhT holds them). The input units k are walked
// in slabs of TILE_K: h_{t-1} of the workgroup's rows and W_hh of its units are both staged in
// workgroup memory (zeros past H and past the batch), so each W_hh load serves 4 TILE_QUADS
// rows and each h_{t-1} load TILE_UNITS units. The invocation's index x = ly TILE_UNITS + lx is
// what the cell passes to the product.
// GATED: the gated cells' product (gatePreactivations, four vec4f accumulators, one a row);
// else the Elman cell's (elmanPreactivation, one vec4f, a row a component).

override TILE_UNITS: u32 = 16u;
override TILE_QUADS: u32 = 4u;
override TILE_K: u32 = 16u;
const ROWS: u32 = 4u;

// hTile[kk TILE_QUADS + q]: h_{t-1}[r0 + 4 q + i, k0 + kk] in component i.
var<workgroup> hTile: array<vec4f, TILE_K * TILE_QUADS>;
// wTile[kk TILE_UNITS + u]: W_hh's gates of (input unit k0 + kk, unit j0 + u).
#if GATED
var<workgroup> wTile: array<vec4f, TILE_K * TILE_UNITS>;
#else
var<workgroup> wTile: array<f32, TILE_K * TILE_UNITS>;
#endif

// Stages the slab k0 .. k0 + TILE_K of h_{t-1} for rows r0 .. r0 + 4 TILE_QUADS - 1 and of W_hh
// for units j0 .. j0 + TILE_UNITS - 1. Consecutive invocations walk along k for h (contiguous
// in hseq) and along j for W_hh (contiguous in whhT). Called in uniform control flow; the
// caller puts a barrier after its use of the tiles.
fn stageSlab(r0: u32, j0: u32, d: u32, k0: u32, x: u32) {
  let threads = TILE_UNITS * TILE_QUADS;
  // One invocation an element, all 4 rows: a write to one component of a vector may touch the
  // whole vector (WGSL), so components from different invocations would race.
  for (var e = x; e < TILE_K * TILE_QUADS; e += threads) {
    let kk = e % TILE_K;
    let q = e / TILE_K;
    var v = vec4f(0.0);
    if (k0 + kk < p.hidden) {
      for (var i = 0u; i < 4u; i++) {
        let b = r0 + 4u * q + i;
        if (b < p.batch) { v[i] = prevH(b, d, k0 + kk); }
      }
    }
    hTile[kk * TILE_QUADS + q] = v;
  }
  for (var e = x; e < TILE_K * TILE_UNITS; e += threads) {
    let u = e % TILE_UNITS;
    let k = k0 + e / TILE_UNITS;
    let inside = k < p.hidden && j0 + u < p.hidden;
#if GATED
    var w = vec4f(0.0);
    if (inside) { w = gateWeights(d, k, j0 + u); }
#else
    var w = 0.0;
    if (inside) { w = elmanWeight(d, k, j0 + u); }
#endif
    wTile[e] = w;
  }
  workgroupBarrier();
}

#if GATED
// h_{t-1} W_hh^T for unit j of rows b0 .. b0 + 3, column r holding row b0 + r's gates. Called
// in uniform control flow by every invocation (it holds barriers).
fn gatePreactivations(b0: u32, d: u32, j: u32, x: u32) -> mat4x4f {
  let lx = x % TILE_UNITS;
  let ly = x / TILE_UNITS;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var k0 = 0u; k0 < p.hidden; k0 += TILE_K) {
    stageSlab(b0 - 4u * ly, j - lx, d, k0, x);
    for (var kk = 0u; kk < TILE_K; kk++) {
      let hv = hTile[kk * TILE_QUADS + ly];
      let wv = wTile[kk * TILE_UNITS + lx];
      a0 = fma(vec4f(hv.x), wv, a0);
      a1 = fma(vec4f(hv.y), wv, a1);
      a2 = fma(vec4f(hv.z), wv, a2);
      a3 = fma(vec4f(hv.w), wv, a3);
    }
    workgroupBarrier();
  }
  return mat4x4f(a0, a1, a2, a3);
}
#else
// h_{t-1} W_hh^T for unit j of rows b0 .. b0 + 3 in component r. Called in uniform control
// flow by every invocation (it holds barriers).
fn elmanPreactivation(b0: u32, d: u32, j: u32, x: u32) -> vec4f {
  let lx = x % TILE_UNITS;
  let ly = x / TILE_UNITS;
  var acc = vec4f(0.0);
  for (var k0 = 0u; k0 < p.hidden; k0 += TILE_K) {
    stageSlab(b0 - 4u * ly, j - lx, d, k0, x);
    for (var kk = 0u; kk < TILE_K; kk++) {
      acc = fma(hTile[kk * TILE_QUADS + ly], vec4f(wTile[kk * TILE_UNITS + lx]), acc);
    }
    workgroupBarrier();
  }
  return acc;
}
#endif

// One step of the layer (the cells' cellStep, after common/step-hooks.wgsl's hooks).
@compute @workgroup_size(TILE_UNITS, TILE_QUADS)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  cellStep(lid.y * TILE_UNITS + lid.x, wid.x * TILE_UNITS + lid.x, (wid.y * TILE_QUADS + lid.y) * ROWS, wid.z);
}
