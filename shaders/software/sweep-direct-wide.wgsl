// The direct backward sweep's wide tile (software/sweep-direct.wgsl, with BATCH_TILE): batches
// of 8 or more. One dispatch a step (and one more for dh0).
// Invocation jb takes eight units j0 = 8 jb .. j0 + 7 of eight rows b0 .. b0 + 7, as four
// quarters of the 4 x 4 tile that share their loads: each m loads the later gradients of 8 rows
// and the weights of 8 units for 64 (unit, row) pairs, 4 multiply-adds a load against 2 for the
// 4 x 4 tile (the GEMM's 8 x 8 blocks, for the same reason: SwiftShader emulates these loads
// lane by lane). The weights are loaded one unit at a time, so that only the gradients and the
// accumulators stay live; the eight units are written out so that every accumulator column has
// a constant index (a dynamically indexed column costs more than the product on SwiftShader, as
// noted at laterGrads).

const ROWS: u32 = 8u;

// Element [2 R + U]: rows b0 + 4 R .., units j0 + 4 U .., column r row, component u unit.
fn laterGradThroughWhhWide(b0: u32, d: u32, j0: u32) -> array<mat4x4f, 4> {
  var out: array<mat4x4f, 4>;
  let H = p.hidden;
  if (p.step == 0u) { return out; }
  let lanes = vec4u(0u, 1u, 2u, 3u);
  let baseL = vec4u(laterBase(b0, d), laterBase(b0 + 1u, d), laterBase(b0 + 2u, d), laterBase(b0 + 3u, d));
  let baseH = vec4u(laterBase(b0 + 4u, d), laterBase(b0 + 5u, d), laterBase(b0 + 6u, d), laterBase(b0 + 7u, d));
  let maskL = vec4f(hasLater(b0), hasLater(b0 + 1u), hasLater(b0 + 2u), hasLater(b0 + 3u));
  let maskH = vec4f(hasLater(b0 + 4u), hasLater(b0 + 5u), hasLater(b0 + 6u), hasLater(b0 + 7u));
  let unitsL = min(vec4u(j0) + lanes, vec4u(H - 1u));
  let unitsH = min(vec4u(j0 + 4u) + lanes, vec4u(H - 1u));
  let H4 = H & ~3u;
  // accRU: rows R, units U; column u: unit, component r: row (transposed at the end).
  var accLL = mat4x4f();
  var accLH = mat4x4f();
  var accHL = mat4x4f();
  var accHH = mat4x4f();
  for (var m = 0u; m < H4; m += 4u) {
    let g0 = laterGrads(baseL.x, m);
    let g1 = laterGrads(baseL.y, m);
    let g2 = laterGrads(baseL.z, m);
    let g3 = laterGrads(baseL.w, m);
    let g4 = laterGrads(baseH.x, m);
    let g5 = laterGrads(baseH.y, m);
    let g6 = laterGrads(baseH.z, m);
    let g7 = laterGrads(baseH.w, m);
    var w = unitWeights(d, unitsL.x, m);
    accLL[0] += rowsTerm(w, g0, g1, g2, g3);
    accHL[0] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsL.y, m);
    accLL[1] += rowsTerm(w, g0, g1, g2, g3);
    accHL[1] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsL.z, m);
    accLL[2] += rowsTerm(w, g0, g1, g2, g3);
    accHL[2] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsL.w, m);
    accLL[3] += rowsTerm(w, g0, g1, g2, g3);
    accHL[3] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.x, m);
    accLH[0] += rowsTerm(w, g0, g1, g2, g3);
    accHH[0] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.y, m);
    accLH[1] += rowsTerm(w, g0, g1, g2, g3);
    accHH[1] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.z, m);
    accLH[2] += rowsTerm(w, g0, g1, g2, g3);
    accHH[2] += rowsTerm(w, g4, g5, g6, g7);
    w = unitWeights(d, unitsH.w, m);
    accLH[3] += rowsTerm(w, g0, g1, g2, g3);
    accHH[3] += rowsTerm(w, g4, g5, g6, g7);
  }
  for (var m = H4; m < H; m++) {
    for (var g = 0u; g < GATES; g++) {
      let i = g * H + m;
      let laterL = vec4f(recurrentGrad(baseL.x + i), recurrentGrad(baseL.y + i), recurrentGrad(baseL.z + i), recurrentGrad(baseL.w + i));
      let laterH = vec4f(recurrentGrad(baseH.x + i), recurrentGrad(baseH.y + i), recurrentGrad(baseH.z + i), recurrentGrad(baseH.w + i));
      for (var u = 0u; u < 4u; u++) {
        let wl = whhGates(d, unitsL[u], m)[g];
        let wh = whhGates(d, unitsH[u], m)[g];
        accLL[u] += wl * laterL;
        accHL[u] += wl * laterH;
        accLH[u] += wh * laterL;
        accHH[u] += wh * laterH;
      }
    }
  }
  out[0] = transpose(mat4x4f(accLL[0] * maskL, accLL[1] * maskL, accLL[2] * maskL, accLL[3] * maskL));
  out[1] = transpose(mat4x4f(accLH[0] * maskL, accLH[1] * maskL, accLH[2] * maskL, accLH[3] * maskL));
  out[2] = transpose(mat4x4f(accHL[0] * maskH, accHL[1] * maskH, accHL[2] * maskH, accHL[3] * maskH));
  out[3] = transpose(mat4x4f(accHH[0] * maskH, accHH[1] * maskH, accHH[2] * maskH, accHH[3] * maskH));
  return out;
}

// The unit steps of one quarter: rows b0 .., units j0 .., rec column r row, component u unit.
fn quarterSteps(b0: u32, d: u32, j0: u32, rec: mat4x4f) {
  for (var r = 0u; r < 4u; r++) {
    if (b0 + r >= p.batch) { break; }
    let rr = rec[r];
    for (var u = 0u; u < 4u; u++) {
      if (j0 + u >= p.hidden) { break; }
      unitStep(b0 + r, d, j0 + u, rr[u]);
    }
  }
}

// Workgroup (x, y, z) = (block of 8 WG units, block of 8 rows, direction d).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  let j0 = 8u * (wid.x * WG + lid.x);
  let d = wid.z;
  if (j0 >= p.hidden) { return; }
  let b0 = wid.y * ROWS;
  let rec = laterGradThroughWhhWide(b0, d, j0);
  quarterSteps(b0, d, j0, rec[0]);
  quarterSteps(b0, d, j0 + 4u, rec[1]);
  quarterSteps(b0 + 4u, d, j0, rec[2]);
  quarterSteps(b0 + 4u, d, j0 + 4u, rec[3]);
}
