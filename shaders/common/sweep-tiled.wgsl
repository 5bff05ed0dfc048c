// The tiled form of the backward sweep (GPUs, large batch x hidden): a dispatch's product
// through W_hh, rec[b, j] = sum over units m of dot(W_hh gates of (k = j, m), the later step's
// recurrent-side gate gradients of (b, m)), is a [B, G H] x [G H, H] GEMM, computed with the
// tiling of the forward's tiled form (common/step-tiled.wgsl), and the cell's unitStep is its
// epilogue. One dispatch a step (and one more for dh0), as the staged form.
//
// Thread mapping: workgroup (x, y, z) = (block of TILE_UNITS units, block of 4 TILE_QUADS rows,
// direction d); invocation (lx, ly) owns unit j = x TILE_UNITS + lx of the 4 rows
// b0 = 4 (y TILE_QUADS + ly) .. b0 + 3. The units m are walked in slabs of TILE_K: the later
// gradients of the workgroup's rows (a vec4f of gates per row and unit) and W_hh of its units
// are staged in workgroup memory (zeros past H, past the batch and for rows that did not run
// the later step), so each W_hh load serves 4 TILE_QUADS rows and each gradient load
// TILE_UNITS units.

override TILE_UNITS: u32 = 16u;
override TILE_QUADS: u32 = 4u;
override TILE_K: u32 = 16u;

// gTile[mm 4 TILE_QUADS + r]: the later step's gate gradients of row r0 + r, unit m0 + mm.
var<workgroup> gTile: array<vec4f, TILE_K * 4u * TILE_QUADS>;
// wTile[mm TILE_UNITS + u]: the gates of W_hh[g H + m0 + mm, j0 + u].
var<workgroup> wTile: array<vec4f, TILE_K * TILE_UNITS>;

fn seqLen(b: u32) -> u32 {
  return storedLength(b);
}

// Stages units m0 .. m0 + TILE_K of the later gradients for rows r0 .. r0 + 4 TILE_QUADS - 1
// and of W_hh for units j0 .. j0 + TILE_UNITS - 1; consecutive invocations walk along m, which
// is contiguous in dG and in whhT for a fixed k = j. Called in uniform control flow; the
// caller puts a barrier after its use of the tiles.
fn stageSlab(r0: u32, j0: u32, d: u32, m0: u32, x: u32) {
  let threads = TILE_UNITS * TILE_QUADS;
  for (var e = x; e < TILE_K * 4u * TILE_QUADS; e += threads) {
    let mm = e % TILE_K;
    let r = e / TILE_K;
    let b = r0 + r;
    var v = vec4f(0.0);
    // The row ran the later step (dispatch s - 1) while s <= L_b; past that its rec is unused
    // and laterTime would leave its slots.
    if (m0 + mm < p.hidden && b < p.batch && curStep <= seqLen(b)) {
      let tl = laterTime(d, b);
      for (var g = 0u; g < GATES; g++) { v[g] = recurrentGrad(gateIndex(tl, b, d, g, m0 + mm)); }
    }
    gTile[mm * 4u * TILE_QUADS + r] = v;
  }
  for (var e = x; e < TILE_K * TILE_UNITS; e += threads) {
    let mm = e % TILE_K;
    let u = e / TILE_K;
    var w = vec4f(0.0);
    if (m0 + mm < p.hidden && j0 + u < p.hidden) { w = whhGates(d, j0 + u, m0 + mm); }
    wTile[mm * TILE_UNITS + u] = w;
  }
  workgroupBarrier();
}

// rec for unit j of rows b0 .. b0 + 3 (component r: row b0 + r); zeros on the first dispatch.
// Called in uniform control flow by every invocation (it holds barriers).
fn laterGradThroughWhh(b0: u32, d: u32, j: u32, x: u32) -> vec4f {
  let lx = x % TILE_UNITS;
  let ly = x / TILE_UNITS;
  var acc = vec4f(0.0);
  // p.step, not curStep (the same here): the barriers below need a uniform condition.
  if (p.step == 0u) { return acc; }
  for (var m0 = 0u; m0 < p.hidden; m0 += TILE_K) {
    stageSlab(b0 - 4u * ly, j - lx, d, m0, x);
    for (var mm = 0u; mm < TILE_K; mm++) {
      let wv = wTile[mm * TILE_UNITS + lx];
      let g = mm * 4u * TILE_QUADS + 4u * ly;
      acc += vec4f(dot(wv, gTile[g]), dot(wv, gTile[g + 1u]), dot(wv, gTile[g + 2u]), dot(wv, gTile[g + 3u]));
    }
    workgroupBarrier();
  }
  return acc;
}

@compute @workgroup_size(TILE_UNITS, TILE_QUADS)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  let j = wid.x * TILE_UNITS + lid.x;
  let b0 = (wid.y * TILE_QUADS + lid.y) * 4u;
  let rec = laterGradThroughWhh(b0, wid.z, j, lid.y * TILE_UNITS + lid.x);
  if (j >= p.hidden) { return; }
  for (var r = 0u; r < 4u; r++) {
    if (b0 + r >= p.batch) { break; }
    unitStep(b0 + r, wid.z, j, rec[r]);
  }
}
