// What the direct forms of the backward sweep share (software adapters; chosen by
// placement/rules.ts): the later gradients are read straight from memory, no staging and no
// barrier, as in the direct forward form (software/step-direct.wgsl). Each invocation takes
// four units of ROWS rows (software/sweep-direct-tile.wgsl) or eight units of eight rows
// (software/sweep-direct-wide.wgsl), so that each later-gradient load serves several units and
// each W_hh load several rows: one unit of one row would leave a multiply-add per load.
// BATCH_TILE: rowsTerm takes four rows (always with the wide tile, which reads its rows four
// at a time).

fn seqLen(b: u32) -> u32 {
  return storedLength(b);
}

// Gate g's later gradients of units m .. m + 3 in the row whose gates start at `base`.
fn laterGrad4(base: u32, g: u32, m: u32) -> vec4f {
  let i = base + g * p.hidden + m;
  return vec4f(recurrentGrad(i), recurrentGrad(i + 1u), recurrentGrad(i + 2u), recurrentGrad(i + 3u));
}

// Column g: laterGrad4 of gate g (zero past GATES). GATES is a constant: the tests on it fold
// away (a dynamically indexed component costs more than the whole product on SwiftShader).
fn laterGrads(base: u32, m: u32) -> mat4x4f {
  var gm = mat4x4f();
  gm[0] = laterGrad4(base, 0u, m);
  if (GATES > 1u) { gm[1] = laterGrad4(base, 1u, m); }
  if (GATES > 2u) { gm[2] = laterGrad4(base, 2u, m); }
  if (GATES > 3u) { gm[3] = laterGrad4(base, 3u, m); }
  return gm;
}

// Column g: gate g of W_hh for (k = j, m .. m + 3), i.e. W_hh[g*H + m + mm, j] in component mm.
fn unitWeights(d: u32, j: u32, m: u32) -> mat4x4f {
  return transpose(mat4x4f(whhGates(d, j, m), whhGates(d, j, m + 1u), whhGates(d, j, m + 2u), whhGates(d, j, m + 3u)));
}

// Sum over gates and the four units m of weight times later gradient.
fn pairTerm(wt: mat4x4f, gm: mat4x4f) -> f32 {
  var e = wt[0] * gm[0];
  if (GATES > 1u) { e += wt[1] * gm[1]; }
  if (GATES > 2u) { e += wt[2] * gm[2]; }
  if (GATES > 3u) { e += wt[3] * gm[3]; }
  return e.x + e.y + e.z + e.w;
}

// pairTerm of one unit's weights with each row's gradients, component r for row b0 + r.
fn rowsTerm(wt: mat4x4f, g0: mat4x4f, g1: mat4x4f, g2: mat4x4f, g3: mat4x4f) -> vec4f {
#if BATCH_TILE
  return vec4f(pairTerm(wt, g0), pairTerm(wt, g1), pairTerm(wt, g2), pairTerm(wt, g3));
#else
  return vec4f(pairTerm(wt, g0), 0.0, 0.0, 0.0);
#endif
}

// Where row b's later gradients start, and whether the row has any (it exists and still runs,
// or forms dh0, in this dispatch); a row without reads row 0 and is masked.
fn laterBase(b: u32, d: u32) -> u32 {
  if (b >= p.batch || curStep > seqLen(b)) { return 0u; }
  return gateIndex(laterTime(d, b), b, d, 0u, 0u);
}
fn hasLater(b: u32) -> f32 {
  return select(0.0, 1.0, b < p.batch && curStep <= seqLen(b));
}
