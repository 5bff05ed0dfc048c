// The direct backward sweep's 4 x 4 tile (software/sweep-direct.wgsl): invocation jb takes four
// units j0 = 4 jb .. j0 + 3 of ROWS rows b0 .. (four with BATCH_TILE, else one). One dispatch
// a step (and one more for dh0).

#if BATCH_TILE
const ROWS: u32 = 4u;
#else
const ROWS: u32 = 1u;
#endif

// The gradient reaching h_t[b0 + r, j0 + u] through W_hh from the later step, column r and
// component u: the sum over m and g of W_hh[g*H + m, j0 + u] * later dG[b0 + r, g, m], four
// units m at a time and the H mod 4 last ones one at a time. Zero on the first dispatch
// (there is no later step). Units past H repeat the last one (their results are dropped).
fn laterGradThroughWhhTile(b0: u32, d: u32, j0: u32) -> mat4x4f {
  let H = p.hidden;
  if (curStep == 0u) { return mat4x4f(); }
#if BATCH_TILE
  let base = vec4u(laterBase(b0, d), laterBase(b0 + 1u, d), laterBase(b0 + 2u, d), laterBase(b0 + 3u, d));
  let mask = vec4f(hasLater(b0), hasLater(b0 + 1u), hasLater(b0 + 2u), hasLater(b0 + 3u));
#else
  let base = vec4u(laterBase(b0, d), 0u, 0u, 0u);
  let mask = vec4f(hasLater(b0), 0.0, 0.0, 0.0);
#endif
  let units = min(vec4u(j0) + vec4u(0u, 1u, 2u, 3u), vec4u(H - 1u));
  let H4 = H & ~3u;
  // Column u: unit j0 + u, component r: row b0 + r.
  var acc = mat4x4f();
  for (var m = 0u; m < H4; m += 4u) {
    let g0 = laterGrads(base.x, m);
#if BATCH_TILE
    let g1 = laterGrads(base.y, m);
    let g2 = laterGrads(base.z, m);
    let g3 = laterGrads(base.w, m);
#else
    let g1 = g0;
    let g2 = g0;
    let g3 = g0;
#endif
    acc[0] += rowsTerm(unitWeights(d, units.x, m), g0, g1, g2, g3);
    acc[1] += rowsTerm(unitWeights(d, units.y, m), g0, g1, g2, g3);
    acc[2] += rowsTerm(unitWeights(d, units.z, m), g0, g1, g2, g3);
    acc[3] += rowsTerm(unitWeights(d, units.w, m), g0, g1, g2, g3);
  }
  for (var m = H4; m < H; m++) {
    for (var g = 0u; g < GATES; g++) {
      let i = g * H + m;
      let later = vec4f(recurrentGrad(base.x + i), recurrentGrad(base.y + i), recurrentGrad(base.z + i), recurrentGrad(base.w + i));
      for (var u = 0u; u < 4u; u++) { acc[u] += whhGates(d, units[u], m)[g] * later; }
    }
  }
  return transpose(mat4x4f(acc[0] * mask, acc[1] * mask, acc[2] * mask, acc[3] * mask));
}

// Workgroup (x, y, z) = (block of 4 WG units, block of ROWS rows, direction d).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  curStep = p.step;
  let j0 = 4u * (wid.x * WG + lid.x);
  let d = wid.z;
  if (j0 >= p.hidden) { return; }
  let b0 = wid.y * ROWS;
  let rec = laterGradThroughWhhTile(b0, d, j0);
  for (var r = 0u; r < ROWS; r++) {
    if (b0 + r >= p.batch) { break; }
    let rr = rec[r];
    for (var u = 0u; u < 4u; u++) {
      if (j0 + u >= p.hidden) { break; }
      unitStep(b0 + r, d, j0 + u, rr[u]);
    }
  }
}
