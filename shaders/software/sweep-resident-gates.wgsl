// The gated cells' part of the resident backward sweep (software/sweep-resident.wgsl): the
// shared later gradients, the product's accumulator and terms. GATES3 (the GRU): three gates a
// weight (software/resident-weights.wgsl).

// sRes[m]: the later gradients of unit m, gates in components, per row (column r) with
// BATCH_TILE; RES_HS >= RES_H elements, whole blocks of the subgroup lanes that share its loads.
#if BATCH_TILE
var<workgroup> sRes: array<mat4x4f, RES_HS>;
alias ResAcc = vec4f;
// Component r: the sum over gates of weight times row r's later gradient.
#if GATES3
fn residentTerm(w: vec3f, g: mat4x4f) -> vec4f { return vec4f(w, 0.0) * g; }
#else
fn residentTerm(w: vec4f, g: mat4x4f) -> vec4f { return w * g; }
#endif
#else
var<workgroup> sRes: array<vec4f, RES_HS>;
alias ResAcc = f32;
#if GATES3
fn residentTerm(w: vec3f, g: vec4f) -> f32 { return dot(w, g.xyz); }
#else
fn residentTerm(w: vec4f, g: vec4f) -> f32 { return dot(w, g); }
#endif
#endif

// Unit j's later gradients of rows b0 .., into sRes[j].
fn stageOwnLater(b0: u32, d: u32, j: u32) {
  if (j >= p.hidden) { return; }
#if BATCH_TILE
  sRes[j] = mat4x4f(ownLaterGrads(b0, d, j), ownLaterGrads(b0 + 1u, d, j), ownLaterGrads(b0 + 2u, d, j), ownLaterGrads(b0 + 3u, d, j));
#else
  sRes[j] = ownLaterGrads(b0, d, j);
#endif
}
