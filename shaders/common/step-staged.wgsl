// The staged form of the forward step (the form for GPUs): h_{t-1} is staged in workgroup
// memory a tile at a time, so that each load of it serves a workgroup of units.
//
// Thread mapping: workgroup (x, y, z) = (block of WG hidden units, block of ROWS batch rows,
// direction d); invocation x of the block owns hidden unit j = x_block * WG + x for the ROWS
// rows b0 .. b0 + ROWS - 1 and computes all G gates of that unit, so no gate buffer makes a
// round trip through memory, and each W_hh load serves ROWS rows.
// PERSISTENT (common/step-main.wgsl): one dispatch runs every step of the layer. Workgroup
// (0, y, d) owns all H units of its rows, invocation x taking units x, x + WG, x + 2 WG, ...;
// between steps a storage barrier (phaseBarrier) makes the h_t it wrote to hseq visible to the
// whole workgroup, which is the only reader of its rows.
// ROWS is 4 with BATCH_TILE (batches of 4 or more), else 1. With BATCH_TILE the staged
// h_{t-1} tile holds the 4 rows of a unit in one vec4f and the gated cells accumulate in a
// mat4x4f (column r: the gates of row b0 + r), so no accumulator is an indexed array.
// GATED: the gated cells' product (gatePreactivations); else the Elman cell's (elmanPreactivation).

// hTile[x]: h_{t-1}[b0 + r, k0 + x], component r (BATCH_TILE) or the one row.
#if BATCH_TILE
const ROWS: u32 = 4u;
var<workgroup> hTile: array<vec4f, WG>;
#else
const ROWS: u32 = 1u;
var<workgroup> hTile: array<f32, WG>;
#endif

// PERSISTENT: the end of a step. h_t (and the GRU's r * h_{t-1}) are in storage; the barrier
// makes them visible to every invocation of the workgroup before the next phase reads them.
fn phaseBarrier() {
  storageBarrier();
  workgroupBarrier();
}

// Stages h_{t-1}[b0 + r, k0 .. k0 + WG) in hTile (zeros past H and past the batch). Called in
// uniform control flow by every invocation of the workgroup; the caller puts a barrier after
// its use of the tile.
fn stagePrevH(b0: u32, d: u32, k0: u32, x: u32) {
  let k = k0 + x;
#if BATCH_TILE
  var v = vec4f(0.0);
  for (var r = 0u; r < ROWS; r++) {
    if (k < p.hidden && b0 + r < p.batch) { v[r] = prevH(b0 + r, d, k); }
  }
  hTile[x] = v;
#else
  var v = 0.0;
  if (k < p.hidden && b0 < p.batch) { v = prevH(b0, d, k); }
  hTile[x] = v;
#endif
  workgroupBarrier();
}

#if GATED
// The gated cells (LSTM, GRU; whhT holds a vec4f of gates per unit): h_{t-1} W_hh^T for unit j
// of rows b0 .. b0 + ROWS - 1, column r holding row b0 + r's gates (only column 0 without
// BATCH_TILE). Called in uniform control flow by every invocation (it holds barriers).
fn gatePreactivations(b0: u32, d: u32, j: u32, x: u32) -> mat4x4f {
  let H = p.hidden;
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b0, d, k0, x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let wv = gateWeights(d, k0 + kk, j);
#if BATCH_TILE
        let hv = hTile[kk];
        acc += mat4x4f(wv * hv.x, wv * hv.y, wv * hv.z, wv * hv.w);
#else
        acc[0] = fma(vec4f(hTile[kk]), wv, acc[0]);
#endif
      }
    }
    workgroupBarrier();
  }
  return acc;
}
#else
// The Elman cell (whhT holds one f32 per unit): h_{t-1} W_hh^T for unit j of rows
// b0 .. b0 + ROWS - 1 in component r (only x without BATCH_TILE). Called in uniform control
// flow by every invocation (it holds barriers).
fn elmanPreactivation(b0: u32, d: u32, j: u32, x: u32) -> vec4f {
  let H = p.hidden;
  var acc = vec4f(0.0);
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b0, d, k0, x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = elmanWeight(d, k0 + kk, j);
#if BATCH_TILE
        acc = fma(hTile[kk], vec4f(w), acc);
#else
        acc.x = fma(hTile[kk], w, acc.x);
#endif
      }
    }
    workgroupBarrier();
  }
  return acc;
}
#endif
