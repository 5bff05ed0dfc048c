// GRU step with ONNX's default linear_before_reset = 0 (see gru-cell-forward.wgsl for the
// gates), in the staged form (common/step-staged.wgsl):
//   n = tanh(xn + (r * h_{t-1}) W_hn^T + b_hn)
// The product needs r of every unit of the row, which only a finished phase can give, so a
// step has two: `resetGate` writes r * h_{t-1} to `rh` [D, B, H] and `main` then reads it (two
// dispatches a step; PERSISTENT: both phases of every step in one dispatch, a barrier after
// each). There is no training form: the backward sweep is PyTorch's form only.
// W_hh arrives as one vec4f (r, z, n, 0) per (direction, input unit, unit).

@group(0) @binding(2) var<storage, read> whhT: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> rh: array<f32>;
// rhTile: like hTile, holding r * h_{t-1}.
#if BATCH_TILE
var<workgroup> rhTile: array<vec4f, WG>;
#else
var<workgroup> rhTile: array<f32, WG>;
#endif

fn rhIndex(b: u32, d: u32, j: u32) -> u32 {
  return (d * p.batch + b) * p.hidden + j;
}

// Phase 1 of a step for unit j of rows b0 .. b0 + ROWS - 1 (see cellStep of lbr = 1).
fn resetGateStep(x: u32, j: u32, b0: u32, d: u32) {
  let H = p.hidden;
  let GH = 3u * H;

  // Component r: the reset gate's recurrent pre-activation of row b0 + r.
  var acc = vec4f(0.0);
  for (var k0 = 0u; k0 < H; k0 += WG) {
    stagePrevH(b0, d, k0, x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let w = whhT[whhIndex(d, k0 + kk, j)].x;
#if BATCH_TILE
        acc = fma(hTile[kk], vec4f(w), acc);
#else
        acc.x = fma(hTile[kk], w, acc.x);
#endif
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    // Inactive rows: nothing to gate (main zeroes their output).
    if (!running(b)) { continue; }
    let t = timeOf(d, b);
    let rg = actF(xproj[xprojBase(t, b, d, 3u) + j] + bhh[d * GH + j] + acc[r], d);
    rh[rhIndex(b, d, j)] = rg * prevH(b, d, j);
  }
}

// Phase 2 of a step for unit j of rows b0 .. b0 + ROWS - 1: reads every unit's r * h_{t-1}.
fn updateStep(x: u32, j: u32, b0: u32, d: u32) {
  let H = p.hidden;
  let GH = 3u * H;

  // Component r: the update gate's (accZ) and the candidate's (accN) recurrent terms of row b0 + r.
  var accZ = vec4f(0.0);
  var accN = vec4f(0.0);
  for (var k0 = 0u; k0 < H; k0 += WG) {
    let k = k0 + x;
#if BATCH_TILE
    var v = vec4f(0.0);
    for (var r = 0u; r < ROWS; r++) {
      if (k < H && b0 + r < p.batch) { v[r] = rh[rhIndex(b0 + r, d, k)]; }
    }
    rhTile[x] = v;
#else
    var v = 0.0;
    if (k < H && b0 < p.batch) { v = rh[rhIndex(b0, d, k)]; }
    rhTile[x] = v;
#endif
    stagePrevH(b0, d, k0, x);
    if (j < H) {
      let n = min(WG, H - k0);
      for (var kk = 0u; kk < n; kk++) {
        let wv = whhT[whhIndex(d, k0 + kk, j)];
#if BATCH_TILE
        accZ = fma(hTile[kk], vec4f(wv.y), accZ);
        accN = fma(rhTile[kk], vec4f(wv.z), accN);
#else
        accZ.x = fma(hTile[kk], wv.y, accZ.x);
        accN.x = fma(rhTile[kk], wv.z, accN.x);
#endif
      }
    }
    workgroupBarrier();
  }
  if (j >= H) { return; }

  let bb = d * GH + j;
  for (var r = 0u; r < ROWS; r++) {
    let b = b0 + r;
    if (b >= p.batch) { break; }
    let t = timeOf(d, b);
    if (!running(b)) {
      hseq[hseqIndex(t, b, d, j)] = 0.0;
      continue;
    }
    let xb = xprojBase(t, b, d, 3u) + j;
    let z = actF(xproj[xb + H] + bhh[bb + H] + accZ[r], d);
    let n = actG(xproj[xb + 2u * H] + accN[r] + bhh[bb + 2u * H], d);
    let h = (1.0 - z) * n + z * prevH(b, d, j);
    hseq[hseqIndex(t, b, d, j)] = h;
    if (isLast(b)) { hN[stateIndex(b, d, j)] = h; }
  }
}

#if PERSISTENT
// Both phases of every step in one dispatch, with a barrier after each.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  for (var s = 0u; s < p.seqLen; s++) {
    curStep = s;
    for (var j0 = 0u; j0 < p.hidden; j0 += WG) { resetGateStep(lid.x, j0 + lid.x, wid.y * ROWS, wid.z); }
    phaseBarrier();
    for (var j0 = 0u; j0 < p.hidden; j0 += WG) { updateStep(lid.x, j0 + lid.x, wid.y * ROWS, wid.z); }
    phaseBarrier();
  }
}
#else
@compute @workgroup_size(WG)
fn resetGate(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  resetGateStep(lid.x, wid.x * WG + lid.x, wid.y * ROWS, wid.z);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  updateStep(lid.x, wid.x * WG + lid.x, wid.y * ROWS, wid.z);
}
#endif
