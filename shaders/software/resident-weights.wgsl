// What the resident forms (software/step-resident.wgsl, software/sweep-resident.wgsl) keep
// of W_hh and of their row block, forward and backward alike.
//
// Each invocation takes RES_U units and keeps the weights of each, RES_H = H of them, in order
// i = k RES_U + u (input unit k, unit u): the first RES_WP in wRes (private memory), the next
// RES_WM in main's function variable (ResMain), the last RES_WW in residentWalk's (ResWalk),
// each of those at least one element long (WGSL has no empty arrays, and bounds private
// variables at 8192 bytes a shader and function variables at 8192 bytes a function). The
// loader adds RES_H, RES_HS, RES_U, RES_WP, RES_WM, RES_WW and the unrolled residentProduct
// (residentProductSource in src/kernels/resident.ts), with RES_U from residentSplit.
// A weight (ResWeight) is a vec4f of a unit's gates (GATED), the Elman cell's one float, or
// with GATES3 (the GRU) its three gates r, z, n in three floats, without whhT's padding gate:
// a quarter fewer multiply-adds and weight loads, and more units in the same memory; the
// generated product reads them as a vec3f.
#if GATES3
var<private> wRes: array<f32, RES_WP * 3>;
alias ResMain = array<f32, max(RES_WM, 1u) * 3u>;
alias ResWalk = array<f32, max(RES_WW, 1u) * 3u>;
alias ResWeight = vec4f;
fn weightOf(gates: vec4f) -> ResWeight { return gates; }
#elif GATED
var<private> wRes: array<vec4f, RES_WP>;
alias ResMain = array<vec4f, max(RES_WM, 1u)>;
alias ResWalk = array<vec4f, max(RES_WW, 1u)>;
alias ResWeight = vec4f;
fn weightOf(gates: vec4f) -> ResWeight { return gates; }
#else
var<private> wRes: array<f32, RES_WP>;
alias ResMain = array<f32, max(RES_WM, 1u)>;
alias ResWalk = array<f32, max(RES_WW, 1u)>;
alias ResWeight = f32;
fn weightOf(gates: vec4f) -> ResWeight { return gates.x; }
#endif

// Weight i into wRes, main's variable (w2) or residentWalk's (w3).
fn storeWeight(i: u32, w: ResWeight, w2: ptr<function, ResMain>, w3: ptr<function, ResWalk>) {
#if GATES3
  // Weight i is floats 3i .. 3i + 2 of its array.
  if (i < RES_WP) {
    wRes[3u * i] = w.x;
    wRes[3u * i + 1u] = w.y;
    wRes[3u * i + 2u] = w.z;
  } else if (i < RES_WP + RES_WM) {
    let e = 3u * (i - RES_WP);
    (*w2)[e] = w.x;
    (*w2)[e + 1u] = w.y;
    (*w2)[e + 2u] = w.z;
  } else {
    let e = 3u * (i - RES_WP - RES_WM);
    (*w3)[e] = w.x;
    (*w3)[e + 1u] = w.y;
    (*w3)[e + 2u] = w.z;
  }
#else
  if (i < RES_WP) {
    wRes[i] = w;
  } else if (i < RES_WP + RES_WM) {
    (*w2)[i - RES_WP] = w;
  } else {
    (*w3)[i - RES_WP - RES_WM] = w;
  }
#endif
}

// The row block residentWalk is on: its first row, and the lengths of rows resRow0 + r
// (component r; 0 past the batch), which seqLen returns: one load a row block instead of
// several a unit and step (each load from storage clamps its index on SwiftShader).
var<private> resRow0: u32;
var<private> resLens: vec4u;

fn seqLen(b: u32) -> u32 {
  return resLens[min(b - resRow0, 3u)];
}
