// The Elman cell's part of the resident backward sweep (software/sweep-resident.wgsl): the
// shared later gradients, the product's accumulator and terms.

// sRes[m]: the later gradient of unit m, per row (component r) with BATCH_TILE; RES_HS >= RES_H
// elements, whole blocks of the subgroup lanes that share its loads.
#if BATCH_TILE
var<workgroup> sRes: array<vec4f, RES_HS>;
alias ResAcc = vec4f;
fn residentTerm(w: f32, g: vec4f) -> vec4f { return w * g; }
#else
var<workgroup> sRes: array<f32, RES_HS>;
alias ResAcc = f32;
fn residentTerm(w: f32, g: f32) -> f32 { return w * g; }
#endif

// Unit j's later gradients of rows b0 .., into sRes[j].
fn stageOwnLater(b0: u32, d: u32, j: u32) {
  if (j >= p.hidden) { return; }
#if BATCH_TILE
  sRes[j] = vec4f(ownLaterGrads(b0, d, j).x, ownLaterGrads(b0 + 1u, d, j).x, ownLaterGrads(b0 + 2u, d, j).x, ownLaterGrads(b0 + 3u, d, j).x);
#else
  sRes[j] = ownLaterGrads(b0, d, j).x;
#endif
}
